//! Refunds: full or partial, never beyond what is left; the ledger takes the money
//! from where the payment's money is.

use chrono::Utc;
use domain::Money;
use domain::escrow::EscrowStatus;
use domain::payment::{PaymentStatus, PaymentType, parse_uuid};
use domain::refunds::{REASON_LEN_MAX, Refund, RefundStatus, refund_entry, refund_failed_entry};
use domain::validation::IdempotencyKey;
use domain::wallet::{WalletTransaction, WalletTransactionKind, WalletTransactionStatus};
use uuid::Uuid;

use crate::auth::{Principal, visible};
use crate::escrow_ports::{RefundContext, RefundPlan};
use crate::marketplace_ports::Guarded;
use crate::{App, AppError, idempotency};

const METHOD: &str = "CreateRefund";

impl App {
    pub async fn create_refund(
        &self,
        principal: &Principal,
        payment_id: &str,
        amount: &str,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<Refund, AppError> {
        let id = parse_uuid("payment_id", payment_id)?;
        let reason = &domain::validation::parse_free_text("reason", reason, REASON_LEN_MAX)?;
        let key = IdempotencyKey::parse_optional("idempotency_key", idempotency_key)?;
        // Before the payment is loaded: its existence and currency are not for everyone.
        principal.ensure_service()?;
        let payment = self.store.payment(id).await?.ok_or(AppError::NotFound("payment"))?;
        let requested =
            if amount.is_empty() { None } else { Some(Money::parse_positive("amount", amount, payment.amount.currency())?) };
        let fields = vec![id.to_string(), requested.map(|m| m.minor().to_string()).unwrap_or_default(), reason.to_owned()];
        let claim = idempotency::claim(principal, key.as_ref(), METHOD, &fields);
        let refund_id = Uuid::now_v7();
        let plan = |context: &RefundContext| -> Result<RefundPlan, String> {
            let payment = &context.payment;
            if payment.status != PaymentStatus::Succeeded {
                return Err(format!("payment is {}, only a succeeded payment can be refunded", payment.status));
            }
            if context.disputed {
                return Err(format!(
                    "payment {} has an open dispute: its buyer's bank may take the money back, so it cannot be refunded until the dispute closes",
                    payment.id
                ));
            }
            let held_in_escrow = match &context.hold {
                Some(hold) if hold.status == EscrowStatus::Holding => {
                    return Err("the payment's escrow is still holding: cancel the hold first".into());
                }
                Some(hold) => hold.status == EscrowStatus::Cancelled,
                None => false,
            };
            // What is still on the platform for this payment: not refunded, not the
            // platform's fee, not transferred to a vendor (reverse a transfer first).
            let rest = payment.amount.minor() - payment.refunded_minor - context.fee_minor - context.transferred_minor;
            let amount = requested.map_or(rest, |m| m.minor());
            if amount > rest || rest <= 0 {
                return Err(format!(
                    "amount exceeds what is left to refund on the platform ({}); reverse the vendor's transfer first",
                    Money::from_minor(rest.max(0), payment.amount.currency()).to_decimal_string()
                ));
            }
            let now = Utc::now();
            let refund = Refund {
                id: refund_id,
                payment_id: payment.id,
                amount: Money::from_minor(amount, payment.amount.currency()),
                status: RefundStatus::Pending,
                gateway_refund_id: None,
                reason: reason.to_owned(),
                idempotency_key: key.as_ref().map(|k| k.as_str().to_owned()),
                processed_at: None,
                created_at: now,
                updated_at: now,
            };
            let mut updated = payment.clone();
            updated.refunded_minor += amount;
            if updated.refunded_minor == payment.amount.minor() {
                updated.status = PaymentStatus::Refunded;
            }
            updated.updated_at = now;
            let entry = refund_entry(payment, &refund, held_in_escrow).map_err(|e| format!("ledger entry refused: {e}"))?;
            let wallet_row = (payment.payment_type == PaymentType::BalanceDeposit).then(|| WalletTransaction {
                id: Uuid::now_v7(),
                user_id: payment.user_id.clone(),
                kind: WalletTransactionKind::Withdrawal,
                amount: refund.amount,
                status: WalletTransactionStatus::Completed,
                description: format!("refund of top-up {}", payment.id),
                payment_id: Some(payment.id),
                idempotency_key: None,
                gateway_name: None,
                gateway_transaction_id: None,
                created_at: now,
                updated_at: now,
            });
            Ok(RefundPlan { refund, payment: updated, entries: vec![entry], wallet_row })
        };
        let refund = match self.store.create_refund(claim.as_ref(), id, &plan).await? {
            Guarded::Done(refund) => refund,
            Guarded::KeyExists { request_hash, method, resource_id } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let id = idempotency::replayed_id(resource_id)?;
                return self.store.refund(id).await?.ok_or(AppError::NotFound("refund"));
            }
            Guarded::Refused(reason) => return Err(AppError::FailedPrecondition(reason)),
        };
        self.send_refund(refund).await
    }

    /// The gateway refunds after the commit; a refusal puts the money back. A gateway
    /// that cannot be reached leaves the refund pending for the recovery job.
    pub(crate) async fn send_refund(&self, mut refund: Refund) -> Result<Refund, AppError> {
        let payment = self.store.payment(refund.payment_id).await?.ok_or(AppError::NotFound("payment"))?;
        let gateway = self.gateways.resolve("gateway_name", &payment.gateway_name)?;
        let failure = match gateway.refund(&refund, &payment).await {
            Ok(answer) => {
                refund.gateway_refund_id = Some(answer.gateway_refund_id);
                refund.status = answer.status;
                answer.failure_reason
            }
            Err(error) if error.keeps_pending() => {
                error.log_kept_pending("refund", refund.id);
                return Ok(refund);
            }
            Err(error) => {
                tracing::warn!(refund_id = %refund.id, %error, "gateway refused the refund");
                refund.status = RefundStatus::Failed;
                Some(error.to_string())
            }
        };
        self.record_refund_outcome(refund, failure).await
    }

    /// Stores the gateway's word on a refund still pending: its id, and succeeded or
    /// failed (the money goes back where it came from). A refund the gateway still
    /// processes keeps `pending` with its id; its event settles it.
    pub(crate) async fn record_refund_outcome(&self, mut refund: Refund, failure: Option<String>) -> Result<Refund, AppError> {
        let now = Utc::now();
        if refund.status != RefundStatus::Pending {
            refund.processed_at = Some(now);
        }
        refund.updated_at = now;
        if let Some(reason) = &failure {
            tracing::warn!(refund_id = %refund.id, reason, "refund failed at the gateway");
        }
        let undo = |context: &RefundContext| {
            let held_in_escrow = context.hold.as_ref().is_some_and(|h| h.status == EscrowStatus::Cancelled);
            refund_failed_entry(&context.payment, &refund, held_in_escrow).map_err(|e| e.to_string())
        };
        let failed = refund.status == RefundStatus::Failed;
        if !self.store.settle_refund(&refund, failed.then_some(&undo as _)).await? {
            return self.store.refund(refund.id).await?.ok_or(AppError::NotFound("refund"));
        }
        Ok(refund)
    }

    pub async fn refund(&self, principal: &Principal, refund_id: &str) -> Result<Refund, AppError> {
        let id = parse_uuid("refund_id", refund_id)?;
        principal.ensure_user()?;
        let Some(refund) = self.store.refund(id).await? else { return Err(AppError::NotFound("refund")) };
        let payment = self.store.payment(refund.payment_id).await?;
        visible(payment, "refund", |p| principal.sees_user(&p.user_id))?;
        Ok(refund)
    }

    /// Readable by whoever may read the payment.
    pub async fn payment_refunds(&self, principal: &Principal, payment_id: &str) -> Result<Vec<Refund>, AppError> {
        let payment = self.payment(principal, payment_id).await?;
        Ok(self.store.payment_refunds(payment.id).await?)
    }
}

impl App {
    /// The recovery job: transfers, refunds, payouts, withdrawals and reversals still pending since before `before`
    /// (the gateway was unreachable, or the process stopped between commit and call)
    /// are sent again; the gateway calls are idempotent per id.
    pub async fn recover_pending(&self, before: chrono::DateTime<Utc>) -> Result<usize, AppError> {
        const RECOVERY_BATCH_MAX: i64 = 100;
        let mut recovered = 0;
        for transfer in self.store.stale_transfers(before, RECOVERY_BATCH_MAX).await? {
            let transfer = self.send_transfer(transfer).await?;
            recovered += usize::from(transfer.status != domain::transfers::TransferStatus::Pending);
        }
        for refund in self.store.stale_refunds(before, RECOVERY_BATCH_MAX).await? {
            let refund = self.send_refund(refund).await?;
            recovered += usize::from(refund.status != RefundStatus::Pending);
        }
        recovered += self.recover_payouts(before, RECOVERY_BATCH_MAX).await?;
        recovered += self.recover_withdrawals(before, RECOVERY_BATCH_MAX).await?;
        for reversal in self.store.stale_reversals(before, RECOVERY_BATCH_MAX).await? {
            let reversal = self.send_reversal(reversal).await?;
            recovered += usize::from(reversal.status != domain::transfers::ReversalStatus::Pending);
        }
        if recovered > 0 {
            tracing::info!(recovered, "pending transfers and refunds settled by recovery");
        }
        Ok(recovered)
    }
}
