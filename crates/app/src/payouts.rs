//! Payouts from a vendor's available balance to the bank, and the mock gateway's
//! progression of them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::Money;
use domain::accounts::ConnectedAccount;
use domain::ledger::EntryKind;
use domain::payment::{parse_optional_uuid, parse_uuid};
use domain::payouts::{Payout, PayoutMethod, PayoutStatus, arrival_date, instant_fee, parse_statement_descriptor};
use domain::validation::{IdempotencyKey, validate_metadata};
use uuid::Uuid;

use crate::auth::Principal;
use crate::marketplace_ports::{Guarded, PayoutChange};
use crate::ports::Page;
use crate::transfers::parse_description;
use crate::{App, AppError, idempotency};

const CREATE_METHOD: &str = "CreatePayout";
/// Metadata key that tells the mock gateway to fail a payout with this code.
pub const MOCK_FAILURE_METADATA_KEY: &str = "mock_failure_code";
/// How many open payouts one scheduler tick advances.
pub const PAYOUT_BATCH_MAX: i64 = 100;

#[derive(Debug, Clone, Default)]
pub struct PayoutInput {
    pub connected_account_id: String,
    pub amount: String,
    pub currency: String,
    pub method: Option<PayoutMethod>,
    pub description: String,
    pub statement_descriptor: String,
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: String,
}

/// Canceled while pending: amount and fee go back to the available balance.
fn cancel_change(payout: &Payout) -> Result<PayoutChange, String> {
    if !payout.status.can_become(PayoutStatus::Canceled) {
        return Err(format!("payout is {}, only a pending payout can be canceled", payout.status));
    }
    let now = Utc::now();
    let canceled = Payout { status: PayoutStatus::Canceled, canceled_at: Some(now), updated_at: now, ..payout.clone() };
    let entry = payout.returned_entry(EntryKind::PayoutCanceled).map_err(|e| e.to_string())?;
    Ok(PayoutChange { payout: canceled, entries: vec![entry] })
}

impl App {
    pub async fn create_payout(&self, principal: &Principal, input: PayoutInput) -> Result<Payout, AppError> {
        let amount = Money::parse_request(&input.amount, &input.currency)?;
        let currency = amount.currency();
        let method = input.method.unwrap_or(PayoutMethod::Standard);
        let description = parse_description(&input.description)?;
        let statement_descriptor = parse_statement_descriptor(&input.statement_descriptor)?;
        validate_metadata("metadata", &input.metadata)?;
        let key = IdempotencyKey::parse_optional("idempotency_key", &input.idempotency_key)?;
        principal.ensure_service()?;
        let account = self.load_account("connected_account_id", &input.connected_account_id).await?;
        let fields = vec![
            account.id.to_string(),
            amount.minor().to_string(),
            currency.code().to_owned(),
            method.as_str().to_owned(),
            description.clone(),
            statement_descriptor.clone(),
            serde_json::to_string(&input.metadata).unwrap_or_default(),
        ];
        let claim = idempotency::claim(principal, key.as_ref(), CREATE_METHOD, &fields);
        if !account.payouts_enabled {
            return Err(AppError::FailedPrecondition(
                "payouts are not enabled for this connected account (onboarding incomplete)".into(),
            ));
        }
        self.connect
            .for_account(&account.gateway_account_id)
            .payout_precondition(&account)
            .map_err(AppError::FailedPrecondition)?;
        let fee = match method {
            PayoutMethod::Standard => Money::zero(currency),
            PayoutMethod::Instant => instant_fee(amount, self.settings.instant_payout_fee_percent),
        };
        let now = Utc::now();
        let payout = Payout {
            id: Uuid::now_v7(),
            connected_account_id: account.id,
            gateway_account_id: account.gateway_account_id.clone(),
            amount,
            fee,
            method,
            status: PayoutStatus::Pending,
            destination_type: "bank_account".into(),
            destination_id: format!("ba_{}", account.gateway_account_id.trim_start_matches("acct_")),
            arrival_date: arrival_date(method, now),
            failure_code: None,
            failure_message: None,
            description,
            statement_descriptor,
            gateway_payout_id: None,
            idempotency_key: key.as_ref().map(|k| k.as_str().to_owned()),
            metadata: input.metadata,
            paid_at: None,
            failed_at: None,
            canceled_at: None,
            created_at: now,
            updated_at: now,
        };
        let entry = payout.entry().map_err(AppError::internal)?;
        let payout = match self.store.create_payout(claim.as_ref(), &payout, &[entry]).await? {
            Guarded::Done(payout) => payout,
            Guarded::KeyExists { request_hash, method, resource_id } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let id = idempotency::replayed_id(resource_id)?;
                return self.store.payout(id).await?.ok_or(AppError::NotFound("payout"));
            }
            Guarded::Refused(reason) => return Err(AppError::FailedPrecondition(reason)),
        };
        crate::metrics::payout(payout.status.as_str());
        self.send_payout(payout, &account).await
    }

    /// Asks the gateway for the recorded payout (key `payout-{id}`) and keeps its id.
    /// A refusal fails the payout with its money back; no answer leaves it pending
    /// for the recovery job, since the gateway may have created it.
    pub(crate) async fn send_payout(&self, payout: Payout, account: &ConnectedAccount) -> Result<Payout, AppError> {
        match self.connect.for_account(&account.gateway_account_id).create_payout(&payout, account).await {
            Ok(gateway_id) => self.keep_gateway_payout_id(payout, gateway_id).await,
            Err(error) if error.keeps_pending() => {
                error.log_kept_pending("payout", payout.id);
                Ok(payout)
            }
            // The record ends failed with its money back; the caller hears why.
            Err(error) => {
                tracing::warn!(payout_id = %payout.id, %error, "gateway refused the payout");
                let failed = self.fail_payout(payout.id, "gateway_error", &error.to_string()).await?;
                Err(AppError::FailedPrecondition(format!("payout {} failed: {error}", failed.id)))
            }
        }
    }

    async fn keep_gateway_payout_id(&self, payout: Payout, gateway_id: String) -> Result<Payout, AppError> {
        let change = |current: &Payout| {
            Ok(PayoutChange {
                payout: Payout { gateway_payout_id: Some(gateway_id.clone()), ..current.clone() },
                entries: vec![],
            })
        };
        match self.store.change_payout(payout.id, &change).await? {
            Guarded::Done(payout) => Ok(payout),
            _ => Ok(payout),
        }
    }

    pub async fn payout(&self, principal: &Principal, payout_id: &str) -> Result<Payout, AppError> {
        let id = parse_uuid("payout_id", payout_id)?;
        principal.ensure_merchant()?;
        let payout = self.store.payout(id).await?;
        self.visible_by_account(principal, payout, "payout", |p| Some(p.connected_account_id)).await
    }

    pub async fn payouts(
        &self,
        principal: &Principal,
        account_id: &str,
        status: Option<PayoutStatus>,
        page: Page,
    ) -> Result<(Vec<Payout>, i64), AppError> {
        let account = parse_optional_uuid("connected_account_id", account_id)?;
        self.ensure_lists_account(principal, account).await?;
        Ok(self.store.payouts(account, status, page).await?)
    }

    /// Only while pending; amount and fee go back to the available balance.
    pub async fn cancel_payout(&self, principal: &Principal, payout_id: &str) -> Result<Payout, AppError> {
        let id = parse_uuid("payout_id", payout_id)?;
        principal.ensure_service()?;
        let current = self.store.payout(id).await?.ok_or(AppError::NotFound("payout"))?;
        if !current.status.can_become(PayoutStatus::Canceled) {
            return Err(AppError::FailedPrecondition(format!(
                "payout is {}, only a pending payout can be canceled",
                current.status
            )));
        }
        let account = self.store.account(current.connected_account_id).await?.ok_or(AppError::NotFound("connected account"))?;
        let connect = self.connect.for_account(&account.gateway_account_id);
        match &current.gateway_payout_id {
            Some(_) => connect.cancel_payout(&current, &account).await.map_err(AppError::from)?,
            // The gateway may have made it without telling us: canceling only here
            // would give the vendor the money twice.
            None if connect.settles_payouts_by_events() => {
                return Err(AppError::FailedPrecondition(
                    "the gateway has not confirmed this payout yet; retry the cancel in a minute".into(),
                ));
            }
            None => {}
        }
        match self.change_payout(id, &cancel_change).await {
            Ok(payout) => {
                crate::metrics::payout(payout.status.as_str());
                Ok(payout)
            }
            // The gateway's payout.canceled event was applied first.
            Err(AppError::FailedPrecondition(reason)) => match self.store.payout(id).await? {
                Some(payout) if payout.status == PayoutStatus::Canceled => Ok(payout),
                _ => Err(AppError::FailedPrecondition(reason)),
            },
            Err(error) => Err(error),
        }
    }

    /// A payout event of a gateway that moves payouts itself: paid (through in
    /// transit), failed (money back to available) or canceled. A payout already past
    /// that state is left alone, so an older event never undoes a newer one.
    pub(crate) async fn apply_payout_status(
        &self,
        id: Uuid,
        gateway_payout_id: Option<&str>,
        status: PayoutStatus,
        failure_code: Option<&str>,
        failure_message: Option<&str>,
    ) -> Result<Payout, AppError> {
        let mut current = self.store.payout(id).await?.ok_or(AppError::NotFound("payout"))?;
        if current.gateway_payout_id.is_none()
            && let Some(gateway_id) = gateway_payout_id
        {
            current = self.keep_gateway_payout_id(current, gateway_id.to_owned()).await?;
        }
        match status {
            PayoutStatus::Paid => {
                if current.status == PayoutStatus::Pending {
                    self.step_payout(id).await?;
                }
                self.step_payout(id).await?;
            }
            PayoutStatus::Failed => {
                let message = failure_message.unwrap_or("the gateway reported the payout failed");
                self.fail_payout(id, failure_code.unwrap_or("payout_failed"), message).await?;
            }
            PayoutStatus::Canceled => {
                let payout = self.change_payout(id, &cancel_change).await?;
                crate::metrics::payout(payout.status.as_str());
            }
            PayoutStatus::InTransit if current.status == PayoutStatus::Pending => self.step_payout(id).await?,
            _ => {}
        }
        self.store.payout(id).await?.ok_or(AppError::NotFound("payout"))
    }

    /// The gateway reported a failure: money back to available, code and message kept.
    async fn fail_payout(&self, id: Uuid, code: &str, message: &str) -> Result<Payout, AppError> {
        let fail = |payout: &Payout| {
            if !payout.status.can_become(PayoutStatus::Failed) {
                return Err(format!("payout is {}, it can no longer fail", payout.status));
            }
            let now = Utc::now();
            let failed = Payout {
                status: PayoutStatus::Failed,
                failure_code: Some(code.to_owned()),
                failure_message: Some(message.to_owned()),
                failed_at: Some(now),
                updated_at: now,
                ..payout.clone()
            };
            let entry = payout.returned_entry(EntryKind::PayoutFailed).map_err(|e| e.to_string())?;
            Ok(PayoutChange { payout: failed, entries: vec![entry] })
        };
        let payout = self.change_payout(id, &fail).await?;
        crate::metrics::payout(payout.status.as_str());
        Ok(payout)
    }

    async fn change_payout(&self, id: Uuid, decide: crate::marketplace_ports::DecidePayout<'_>) -> Result<Payout, AppError> {
        match self.store.change_payout(id, decide).await? {
            Guarded::Done(payout) => Ok(payout),
            Guarded::Refused(reason) => Err(AppError::FailedPrecondition(reason)),
            Guarded::KeyExists { .. } => Err(AppError::NotFound("payout")),
        }
    }

    /// The mock gateway's clock: each open payout last changed before `before` moves
    /// one step (pending → in transit → paid), or fails if its metadata asks to.
    pub async fn advance_mock_payouts(&self, before: DateTime<Utc>) -> Result<usize, AppError> {
        let open = self.store.open_payouts(before, PAYOUT_BATCH_MAX).await?;
        let mut advanced = 0;
        for payout in open {
            // Payouts of a gateway with events of its own are settled by them.
            let Some(account) = self.store.account(payout.connected_account_id).await? else { continue };
            if self.connect.for_account(&account.gateway_account_id).settles_payouts_by_events() {
                continue;
            }
            let result = match (payout.status, payout.metadata.get(MOCK_FAILURE_METADATA_KEY)) {
                (PayoutStatus::InTransit, Some(code)) => {
                    self.fail_payout(payout.id, code, "the bank refused the payout (mock)").await.map(|_| ())
                }
                _ => self.step_payout(payout.id).await,
            };
            match result {
                Ok(()) => advanced += 1,
                // Someone else (a cancel, another replica) changed it first.
                Err(AppError::FailedPrecondition(reason)) => {
                    tracing::debug!(payout_id = %payout.id, reason, "payout not advanced")
                }
                Err(error) => return Err(error),
            }
        }
        Ok(advanced)
    }

    async fn step_payout(&self, id: Uuid) -> Result<(), AppError> {
        let step = |payout: &Payout| {
            let now = Utc::now();
            match payout.status {
                PayoutStatus::Pending => {
                    let entry = payout.in_transit_entry().map_err(|e| e.to_string())?;
                    Ok(PayoutChange {
                        payout: Payout { status: PayoutStatus::InTransit, updated_at: now, ..payout.clone() },
                        entries: vec![entry],
                    })
                }
                PayoutStatus::InTransit => {
                    let entry = payout.paid_entry().map_err(|e| e.to_string())?;
                    let paid = Payout { status: PayoutStatus::Paid, paid_at: Some(now), updated_at: now, ..payout.clone() };
                    Ok(PayoutChange { payout: paid, entries: vec![entry] })
                }
                other => Err(format!("payout is {other}")),
            }
        };
        let payout = self.change_payout(id, &step).await?;
        crate::metrics::payout(payout.status.as_str());
        Ok(())
    }
}

impl App {
    /// Payouts the gateway never answered are asked for again with the same key.
    pub(crate) async fn recover_payouts(&self, before: DateTime<Utc>, limit: i64) -> Result<usize, AppError> {
        let mut recovered = 0;
        for payout in self.store.unsent_payouts(before, limit).await? {
            let Some(account) = self.store.account(payout.connected_account_id).await? else { continue };
            match self.send_payout(payout, &account).await {
                Ok(payout) => recovered += usize::from(payout.gateway_payout_id.is_some()),
                Err(AppError::FailedPrecondition(_)) => recovered += 1,
                Err(error) => return Err(error),
            }
        }
        Ok(recovered)
    }
}
