//! Gateway events about refunds, connected accounts, payouts and transfers. Each
//! effect is idempotent and never goes backwards on its own (a settled refund, a
//! finished payout, a reversal total already recorded, an account event older than
//! the newest applied are all left alone). So the event is applied first and logged
//! after: a crash between the two makes the gateway deliver it again, and the second
//! application changes nothing.

use chrono::Utc;
use domain::accounts::GatewayAccountState;
use domain::payouts::PayoutStatus;
use domain::refunds::RefundStatus;
use domain::transfers::ReversalStatus;
use uuid::Uuid;

use crate::ports::{EventEffect, GatewayEvent};
use crate::transfers::plan_reversal;
use crate::webhooks::{WebhookReceipt, webhook_log};
use crate::{App, AppError, marketplace_ports::Guarded};

/// Whether the event changed something, and what the log says about it.
type Applied = (bool, String);

impl App {
    pub(crate) async fn apply_object_event(
        &self,
        gateway_name: &str,
        event: GatewayEvent,
        payload: String,
    ) -> Result<WebhookReceipt, AppError> {
        if self.store.webhook_seen(gateway_name, &event.event_id).await? {
            crate::metrics::webhook_event(gateway_name, "duplicate");
            return Ok(WebhookReceipt::duplicate(None));
        }
        let (applied, message) = match &event.effect {
            EventEffect::Refund { refund_id, gateway_refund_id, status, failure_reason } => {
                self.apply_refund_event(*refund_id, gateway_refund_id, *status, failure_reason.clone()).await?
            }
            EventEffect::Account { gateway_account_id, charges_enabled, payouts_enabled, details_submitted, disabled_reason } => {
                let state = GatewayAccountState {
                    charges_enabled: *charges_enabled,
                    payouts_enabled: *payouts_enabled,
                    details_submitted: *details_submitted,
                    disabled_reason: disabled_reason.clone(),
                };
                self.apply_account_event(gateway_account_id, &state, event.created).await?
            }
            EventEffect::Payout { payout_id, gateway_payout_id, status, failure_code, failure_message } => {
                self.apply_payout_event(
                    gateway_name,
                    *payout_id,
                    gateway_payout_id,
                    *status,
                    failure_code.as_deref(),
                    failure_message.as_deref(),
                )
                .await?
            }
            EventEffect::CardRegistered { link_id, card_reference, ok } => {
                self.apply_card_registration(*link_id, card_reference, *ok).await?
            }
            EventEffect::TransferReversed { transfer_id, gateway_transfer_id, amount_reversed } => {
                self.apply_reversal_event(*transfer_id, gateway_transfer_id, *amount_reversed).await?
            }
            EventEffect::Dispute(reported) => self.apply_dispute_event(gateway_name, reported).await?,
            EventEffect::Checkout { .. } | EventEffect::Ignored => (false, "event type is not handled".to_owned()),
        };
        let log = webhook_log(gateway_name, &event, payload);
        if !self.store.record_webhook(&log, (!applied).then_some(message.as_str())).await? {
            crate::metrics::webhook_event(gateway_name, "duplicate");
            return Ok(WebhookReceipt::duplicate(None));
        }
        crate::metrics::webhook_event(gateway_name, if applied { "applied" } else { "skipped" });
        tracing::info!(gateway = gateway_name, event_id = %event.event_id, event_type = %event.event_type, outcome = %message, "webhook event");
        Ok(WebhookReceipt { duplicate: false, applied, payment: None, message })
    }

    async fn apply_refund_event(
        &self,
        refund_id: Option<Uuid>,
        gateway_refund_id: &str,
        status: RefundStatus,
        failure_reason: Option<String>,
    ) -> Result<Applied, AppError> {
        let Some(refund) = self.load_known(refund_id, |id| self.store.refund(id)).await? else {
            return Ok((false, format!("refund {gateway_refund_id} is not one of ours")));
        };
        // Pending settles either way; a succeeded refund may still fail (the bank
        // returned it); nothing else moves.
        let moves = matches!(
            (refund.status, status),
            (RefundStatus::Pending, RefundStatus::Succeeded | RefundStatus::Failed)
                | (RefundStatus::Succeeded, RefundStatus::Failed)
        );
        if !moves {
            late_success(refund.status == RefundStatus::Failed && status == RefundStatus::Succeeded, "refund", refund.id);
            return Ok((false, format!("refund {} is {}; the gateway says {status}", refund.id, refund.status)));
        }
        let id = refund.id;
        let reported = domain::refunds::Refund { status, gateway_refund_id: Some(gateway_refund_id.to_owned()), ..refund };
        let stored = self.record_refund_outcome(reported, failure_reason).await?;
        Ok((stored.status == status, format!("refund {id} is {}", stored.status)))
    }

    async fn apply_account_event(
        &self,
        gateway_account_id: &str,
        state: &GatewayAccountState,
        created: Option<i64>,
    ) -> Result<Applied, AppError> {
        let Some(account) = self.store.account_by_gateway_id(gateway_account_id).await? else {
            return Ok((false, format!("account {gateway_account_id} is not one of ours")));
        };
        let now = Utc::now();
        let updated = account.with_gateway_state(state, now);
        if !self.store.apply_gateway_account(&updated, created.unwrap_or_else(|| now.timestamp())).await? {
            return Ok((false, format!("account {}: a newer event was applied already", account.id)));
        }
        Ok((true, format!("account {} is {}", account.id, updated.status)))
    }

    async fn apply_payout_event(
        &self,
        gateway_name: &str,
        payout_id: Option<Uuid>,
        gateway_payout_id: &str,
        status: PayoutStatus,
        failure_code: Option<&str>,
        failure_message: Option<&str>,
    ) -> Result<Applied, AppError> {
        let Some(payout) = self.load_known(payout_id, |id| self.store.payout(id)).await? else {
            return self.apply_withdrawal_event(gateway_name, payout_id, gateway_payout_id, status).await;
        };
        match self.apply_payout_status(payout.id, Some(gateway_payout_id), status, failure_code, failure_message).await {
            Ok(after) => {
                Ok((after.status == status && payout.status != status, format!("payout {} is {}", payout.id, after.status)))
            }
            Err(AppError::FailedPrecondition(reason)) => {
                late_success(payout.status == PayoutStatus::Failed && status == PayoutStatus::Paid, "payout", payout.id);
                Ok((false, reason))
            }
            Err(error) => Err(error),
        }
    }

    /// A card gateway's payout of a wallet withdrawal: paid completes it, failed
    /// gives the money back; a settled one stays as it is.
    async fn apply_withdrawal_event(
        &self,
        gateway_name: &str,
        id: Option<Uuid>,
        gateway_payout_id: &str,
        status: PayoutStatus,
    ) -> Result<Applied, AppError> {
        let known = self.load_known(id, |id| self.store.wallet_transaction(id)).await?;
        // Only a withdrawal this gateway pays out: another gateway's event cannot settle it.
        let paid_by_sender = |t: &domain::wallet::WalletTransaction| {
            t.kind == domain::wallet::WalletTransactionKind::Withdrawal && t.gateway_name.as_deref() == Some(gateway_name)
        };
        let Some(withdrawal) = known.filter(paid_by_sender) else {
            return Ok((false, format!("payout {gateway_payout_id} is not one of ours")));
        };
        let paid = match status {
            PayoutStatus::Paid => true,
            PayoutStatus::Failed | PayoutStatus::Canceled => false,
            other => return Ok((false, format!("withdrawal {}: the gateway says {other}", withdrawal.id))),
        };
        match self.settle_card_withdrawal(withdrawal.id, paid, gateway_payout_id).await {
            Ok(settled) => Ok((true, format!("withdrawal {} is {}", settled.id, settled.status))),
            Err(AppError::FailedPrecondition(reason)) => {
                late_success(
                    paid && withdrawal.status == domain::wallet::WalletTransactionStatus::Failed,
                    "withdrawal",
                    withdrawal.id,
                );
                Ok((false, reason))
            }
            Err(error) => Err(error),
        }
    }

    /// A vendor's card registration: once it succeeded, payouts go to that card.
    async fn apply_card_registration(&self, link_id: Option<Uuid>, card_reference: &str, ok: bool) -> Result<Applied, AppError> {
        let Some(link_id) = link_id else {
            return Ok((false, format!("registration {card_reference} is not one of ours")));
        };
        if !ok {
            return Ok((false, format!("the card registration of link {link_id} failed; the vendor may try a new link")));
        }
        match self.store.register_payout_card(link_id, card_reference, Utc::now()).await? {
            Some(account_id) => {
                tracing::info!(%account_id, "connected account onboarded with a payout card");
                Ok((true, format!("account {account_id} is active with a payout card")))
            }
            None => Ok((false, format!("link {link_id} is unknown or its account is disabled"))),
        }
    }

    /// A reversal made at the gateway (its dashboard) that we have not recorded: the
    /// difference of the totals is recorded as one reversal.
    async fn apply_reversal_event(
        &self,
        transfer_id: Option<Uuid>,
        gateway_transfer_id: &str,
        amount_reversed: i64,
    ) -> Result<Applied, AppError> {
        let Some(transfer) = self.load_known(transfer_id, |id| self.store.transfer(id)).await? else {
            return Ok((false, format!("transfer {gateway_transfer_id} is not one of ours")));
        };
        let reversal_id = Uuid::now_v7();
        let plan = |current: &domain::transfers::Transfer, balance_minor: i64| {
            // The gateway knows only what reached the vendor: our reversals of that
            // part, not of the part that repaid the vendor's debt.
            let missing = amount_reversed - current.reversed_sent_minor();
            if missing <= 0 {
                return Err(format!("transfer {}: every reversal is recorded already", current.id));
            }
            if current.reversal_parts(missing).1 > 0 {
                return Err(format!("transfer {}: the gateway reports more reversed than reached the vendor", current.id));
            }
            // Made at the gateway already: nothing to send.
            plan_reversal(
                (current, balance_minor),
                reversal_id,
                missing,
                "reversed at the gateway",
                None,
                ReversalStatus::Succeeded,
            )
        };
        match self.store.reverse_transfer(None, transfer.id, &plan).await? {
            Guarded::Done((reversal, _)) => Ok((
                true,
                format!("transfer {}: reversal {} of {} recorded", transfer.id, reversal.id, reversal.amount.to_decimal_string()),
            )),
            Guarded::Refused(reason) => Ok((false, reason)),
            Guarded::KeyExists { .. } => Ok((false, "reversal recorded already".to_owned())),
        }
    }

    /// Our record named by the gateway's metadata, if it exists.
    async fn load_known<T, F, Fut>(&self, id: Option<Uuid>, load: F) -> Result<Option<T>, AppError>
    where
        F: FnOnce(Uuid) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, crate::StoreError>>,
    {
        match id {
            Some(id) => Ok(load(id).await?),
            None => Ok(None),
        }
    }
}

/// A gateway that reports success for something we already failed (and gave the
/// money back for) means the money left twice: nothing here may guess the fix, so
/// it is counted and logged for a person.
fn late_success(happened: bool, record: &'static str, id: Uuid) {
    if happened {
        crate::metrics::gateway_mismatch("late_success");
        tracing::error!(record, %id, "the gateway reports success for a record we failed and gave the money back for: reconcile it by hand");
    }
}
