//! Connected accounts and their onboarding (KYC) links.

use chrono::{Duration, Utc};
use domain::FieldError;
use domain::accounts::{AccountInput, AccountStatus, ConnectedAccount, NewAccount};
use domain::payment::parse_uuid;
use domain::validation::RedirectUrl;
use uuid::Uuid;

use crate::auth::{Principal, Role, visible};
use crate::marketplace_ports::{AccountLink, OnboardingOutcome};
use crate::ports::Page;
use crate::{App, AppError};

/// An onboarding link as the mock's page finds it.
#[derive(Debug)]
pub enum MockOnboarding {
    /// Still usable: the page names the account and offers to complete.
    Open { account: Box<ConnectedAccount>, link: AccountLink },
    /// Used or expired: the holder needs a new link from the platform.
    Finished,
}

/// Onboarding links are short-lived, like the gateway's.
pub const ACCOUNT_LINK_TTL_MINUTES: i64 = 10;

impl App {
    pub async fn create_account(&self, principal: &Principal, input: AccountInput) -> Result<ConnectedAccount, AppError> {
        let new = NewAccount::parse(input)?;
        principal.ensure_service()?;
        let mut account = new.into_account(Uuid::now_v7(), String::new(), Utc::now());
        account.gateway_account_id =
            self.connect.for_country(&account.country).create_account(&account).await.map_err(|error| {
                tracing::warn!(%error, "gateway did not create the connected account");
                AppError::from(error)
            })?;
        self.store.insert_account(&account).await?;
        tracing::info!(account_id = %account.id, "connected account created");
        Ok(account)
    }

    /// Admins and services read every account; a merchant only its own, and
    /// another's is not found.
    pub async fn account(&self, principal: &Principal, account_id: &str) -> Result<ConnectedAccount, AppError> {
        self.visible_account(principal, "account_id", account_id).await
    }

    /// An account by a client-supplied id named `field`, if the caller may see it.
    pub(crate) async fn visible_account(
        &self,
        principal: &Principal,
        field: &'static str,
        account_id: &str,
    ) -> Result<ConnectedAccount, AppError> {
        let id = parse_uuid(field, account_id)?;
        principal.ensure_merchant()?;
        visible(self.store.account(id).await?, "connected account", |a| principal.sees_account(a))
    }

    /// An existing account, by a client-supplied id named `field`.
    pub(crate) async fn load_account(&self, field: &'static str, account_id: &str) -> Result<ConnectedAccount, AppError> {
        let id = parse_uuid(field, account_id)?;
        self.store.account(id).await?.ok_or(AppError::NotFound("connected account"))
    }

    /// Admins and services see every account; a merchant only its own.
    pub async fn accounts(
        &self,
        principal: &Principal,
        status: Option<AccountStatus>,
        page: Page,
    ) -> Result<(Vec<ConnectedAccount>, i64), AppError> {
        let owner = if principal.is_privileged() {
            None
        } else if principal.has_role(Role::Merchant) {
            Some(principal.subject.as_str())
        } else {
            return Err(AppError::PermissionDenied(
                "listing connected accounts needs the merchant, admin or service role".into(),
            ));
        };
        Ok(self.store.accounts(status, owner, page).await?)
    }

    pub async fn create_account_link(
        &self,
        principal: &Principal,
        account_id: &str,
        return_url: &str,
        refresh_url: &str,
    ) -> Result<(String, chrono::DateTime<Utc>), AppError> {
        let return_url = RedirectUrl::parse("return_url", return_url)?;
        let refresh_url = RedirectUrl::parse("refresh_url", refresh_url)?;
        principal.ensure_service()?;
        let account = self.load_account("account_id", account_id).await?;
        let link = AccountLink {
            id: Uuid::now_v7(),
            account_id: account.id,
            return_url: return_url.as_str().to_owned(),
            refresh_url: refresh_url.as_str().to_owned(),
            expires_at: Utc::now() + Duration::minutes(ACCOUNT_LINK_TTL_MINUTES),
        };
        // Stored first: the gateway's callback for it may come before its answer.
        self.store.insert_account_link(&link).await?;
        let url = self.connect.for_account(&account.gateway_account_id).create_account_link(&account, &link).await.map_err(
            |error| {
                tracing::warn!(account_id = %account.id, %error, "gateway did not create an onboarding link");
                AppError::from(error)
            },
        )?;
        Ok((url, link.expires_at))
    }

    /// What the mock's hosted onboarding page shows before the vendor completes it:
    /// the account and its link. An unknown link is not found; a used or expired
    /// one is `Finished`.
    pub async fn mock_onboarding_link(&self, account_id: &str, link_id: &str) -> Result<MockOnboarding, AppError> {
        let account_id = parse_uuid("account_id", account_id)?;
        let link_id = parse_uuid("link_id", link_id)?;
        let (link, used) = self.store.account_link(account_id, link_id).await?.ok_or(AppError::NotFound("onboarding link"))?;
        if used || link.expires_at < Utc::now() {
            return Ok(MockOnboarding::Finished);
        }
        let account = self.store.account(account_id).await?.ok_or(AppError::NotFound("connected account"))?;
        Ok(MockOnboarding::Open { account: Box::new(account), link })
    }

    /// The mock's hosted onboarding page, submitted: completes KYC, or sends an expired link's
    /// holder to the refresh URL.
    pub async fn complete_mock_onboarding(&self, account_id: &str, link_id: &str) -> Result<OnboardingOutcome, AppError> {
        let account_id = parse_uuid("account_id", account_id)?;
        let link_id = parse_uuid("link_id", link_id)?;
        let outcome = self.store.complete_onboarding(account_id, link_id, Utc::now()).await?;
        let outcome =
            outcome.ok_or_else(|| AppError::from(FieldError::new("link_id", "is not an onboarding link of this account")))?;
        if matches!(outcome, OnboardingOutcome::Completed { .. }) {
            tracing::info!(%account_id, "connected account onboarded");
        }
        Ok(outcome)
    }

    /// Whether the caller may see the account: admins and services every one,
    /// merchants the ones linked to them.
    pub(crate) async fn sees_account_id(&self, principal: &Principal, account_id: Uuid) -> Result<bool, AppError> {
        if principal.is_privileged() {
            return Ok(true);
        }
        Ok(self.store.account(account_id).await?.is_some_and(|account| principal.sees_account(&account)))
    }

    /// `object` when the caller may see the account it belongs to (`None`: the
    /// platform's own, for admins and services); otherwise not found, like one absent.
    pub(crate) async fn visible_by_account<T>(
        &self,
        principal: &Principal,
        object: Option<T>,
        what: &'static str,
        account_of: impl FnOnce(&T) -> Option<Uuid>,
    ) -> Result<T, AppError> {
        let seen = match object.as_ref().map(account_of) {
            Some(Some(account_id)) => self.sees_account_id(principal, account_id).await?,
            Some(None) => principal.is_privileged(),
            None => false,
        };
        visible(object, what, |_| seen)
    }

    /// The account a listing names, when the caller may see it; without one, the
    /// listing covers every account and needs the service role.
    pub(crate) async fn ensure_lists_account(&self, principal: &Principal, account_id: Option<Uuid>) -> Result<(), AppError> {
        let Some(id) = account_id else { return principal.ensure_service() };
        principal.ensure_merchant()?;
        if self.sees_account_id(principal, id).await? { Ok(()) } else { Err(AppError::NotFound("connected account")) }
    }
}
