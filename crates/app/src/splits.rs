//! Split rules and the fee they give.

use chrono::Utc;
use domain::Money;
use domain::accounts::ConnectedAccount;
use domain::fees::{FeeQuote, SplitRule, SplitRuleInput, SplitRuleUpdate, calculate_fee};
use domain::payment::{parse_optional_uuid, parse_uuid};
use uuid::Uuid;

use crate::auth::Principal;
use crate::ports::Page;
use crate::{App, AppError};

impl App {
    pub async fn create_split_rule(&self, principal: &Principal, input: SplitRuleInput) -> Result<SplitRule, AppError> {
        let rule = SplitRule::create(Uuid::now_v7(), input, Utc::now())?;
        principal.ensure_service()?;
        if let Some(account) = rule.connected_account_id
            && self.store.account(account).await?.is_none()
        {
            return Err(AppError::NotFound("connected account"));
        }
        self.store.insert_split_rule(&rule).await?;
        Ok(rule)
    }

    /// A merchant reads the rules of its accounts; platform-wide rules and other
    /// accounts' are not found for it.
    pub async fn split_rule(&self, principal: &Principal, rule_id: &str) -> Result<SplitRule, AppError> {
        let id = parse_uuid("rule_id", rule_id)?;
        principal.ensure_merchant()?;
        let rule = self.store.split_rule(id).await?;
        self.visible_by_account(principal, rule, "split rule", |r| r.connected_account_id).await
    }

    pub async fn split_rules(
        &self,
        principal: &Principal,
        account_id: &str,
        page: Page,
    ) -> Result<(Vec<SplitRule>, i64), AppError> {
        let account = parse_optional_uuid("connected_account_id", account_id)?;
        self.ensure_lists_account(principal, account).await?;
        Ok(self.store.split_rules(account, page).await?)
    }

    pub async fn update_split_rule(
        &self,
        principal: &Principal,
        rule_id: &str,
        update: SplitRuleUpdate,
    ) -> Result<SplitRule, AppError> {
        let id = parse_uuid("rule_id", rule_id)?;
        principal.ensure_service()?;
        let rule = self.store.split_rule(id).await?.ok_or(AppError::NotFound("split rule"))?;
        let updated = rule.update(update, Utc::now())?;
        if !self.store.update_split_rule(&updated).await? {
            return Err(AppError::NotFound("split rule"));
        }
        Ok(updated)
    }

    pub async fn delete_split_rule(&self, principal: &Principal, rule_id: &str) -> Result<(), AppError> {
        let id = parse_uuid("rule_id", rule_id)?;
        principal.ensure_service()?;
        if self.store.delete_split_rule(id, Utc::now()).await? { Ok(()) } else { Err(AppError::NotFound("split rule")) }
    }

    pub async fn calculate_fee(
        &self,
        principal: &Principal,
        account_id: &str,
        amount: &str,
        currency: &str,
    ) -> Result<FeeQuote, AppError> {
        let amount = Money::parse_request(amount, currency)?;
        let account = self.visible_account(principal, "connected_account_id", account_id).await?;
        self.fee_for(&account, amount).await
    }

    pub(crate) async fn fee_for(&self, account: &ConnectedAccount, amount: Money) -> Result<FeeQuote, AppError> {
        let rules = self.store.fee_rules(account.id).await?;
        Ok(calculate_fee(&rules, Some(account.id), amount))
    }
}
