//! Escrow holds: release (by hand, on expiry, by the scheduler) and cancel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use domain::escrow::{CANCELLATION_REASON_LEN_MAX, EscrowHold, EscrowStatus};
use domain::fees::calculate_fee;
use domain::payment::parse_uuid;
use domain::transfers::{Transfer, TransferStatus, fee_entry, recovery, recovery_entry};
use domain::{FieldError, accounts::AccountStatus};
use uuid::Uuid;

use crate::auth::{Principal, visible};
use crate::escrow_ports::{FROZEN, ReleaseContext, ReleasePlan};
use crate::gateways::ConnectGateways;
use crate::marketplace_ports::{Guarded, PaymentSplit};
use crate::ports::Page;
use crate::transfers::with_entries;
use crate::{App, AppError};

pub const EXPIRED_BATCH_DEFAULT: i64 = 100;
pub const EXPIRED_BATCH_MAX: i64 = 1000;
/// Holds released in one transaction: their shared accounts move once per batch.
const RELEASE_BATCH: usize = 50;
/// Batches released at once; each holds a pooled connection while it writes.
const RELEASE_WORKERS: usize = 4;

/// Set when the call that started the workers is dropped: they finish their batch
/// and take no other.
#[derive(Default)]
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The release of one hold: escrow → platform cash, the fee to the fee account, what
/// the merchant owes the platform back to its receivable, the rest to the
/// merchant's pending balance as a transfer.
fn plan_release(context: &ReleaseContext, pending_days: u32, connect: &ConnectGateways) -> Result<ReleasePlan, String> {
    let hold = &context.hold;
    if !hold.status.can_become(EscrowStatus::Released) {
        return Err(format!("escrow hold is {}, only a holding escrow can be released", hold.status));
    }
    if context.disputed {
        return Err(FROZEN.to_owned());
    }
    let account = context.account.as_ref().ok_or_else(|| format!("merchant {} is not a connected account", hold.merchant_id))?;
    if account.status != AccountStatus::Active {
        return Err(format!("merchant account is {}, a release needs an active account", account.status));
    }
    let ledger = |e: domain::ledger::LedgerError| format!("ledger entry refused: {e}");
    let quote = calculate_fee(&context.rules, Some(account.id), hold.amount);
    let now = Utc::now();
    let mut entries = vec![hold.release_entry().map_err(ledger)?];
    entries.extend(fee_entry(hold.payment_id, quote.fee).map_err(ledger)?);
    let recovered = recovery(context.owed_minor, quote.transfer_amount);
    entries.extend(recovery_entry(hold.id.to_string(), account.id, recovered).map_err(ledger)?);
    // A debt that takes the vendor's whole share leaves a transfer settled with
    // nothing to send, which tells the vendor where its share went.
    let transfer = quote.transfer_amount.is_positive().then(|| {
        let description = format!("escrow release of payment {}", hold.payment_id);
        let available_on = now + Duration::days(i64::from(pending_days));
        Transfer::pending(account, Some(hold.payment_id), quote.transfer_amount, description, available_on, now)
            .net_of_recovery(recovered, now)
    });
    let transfer = transfer.map(|transfer| with_entries(connect, transfer, now, &mut entries)).transpose().map_err(ledger)?;
    let split = PaymentSplit {
        id: Uuid::now_v7(),
        payment_id: hold.payment_id,
        rule_id: quote.applied_rule.as_ref().map(|r| r.rule_id),
        fee_minor: quote.fee.minor(),
        transfer_minor: quote.transfer_amount.minor(),
        currency: hold.amount.currency().code(),
    };
    Ok(ReleasePlan { hold: hold.released(now), split, transfer, entries })
}

impl App {
    pub async fn escrow(&self, principal: &Principal, escrow_id: &str) -> Result<EscrowHold, AppError> {
        let id = parse_uuid("escrow_id", escrow_id)?;
        principal.ensure_any_role()?;
        self.visible_hold(principal, self.store.escrow(id).await?).await
    }

    pub async fn escrow_by_payment(&self, principal: &Principal, payment_id: &str) -> Result<EscrowHold, AppError> {
        let id = parse_uuid("payment_id", payment_id)?;
        principal.ensure_any_role()?;
        self.visible_hold(principal, self.store.escrow_by_payment(id).await?).await
    }

    pub async fn escrows(
        &self,
        principal: &Principal,
        status: Option<EscrowStatus>,
        page: Page,
    ) -> Result<(Vec<EscrowHold>, i64), AppError> {
        principal.ensure_service()?;
        Ok(self.store.escrows(status, page).await?)
    }

    pub async fn release_escrow(&self, principal: &Principal, escrow_id: &str) -> Result<EscrowHold, AppError> {
        let id = parse_uuid("escrow_id", escrow_id)?;
        principal.ensure_service()?;
        self.store.escrow(id).await?.ok_or(AppError::NotFound("escrow hold"))?;
        let pending_days = self.settings.balance_pending_days;
        let plan = |context: &ReleaseContext| plan_release(context, pending_days, &self.connect);
        match self.store.release_escrow(id, &plan).await? {
            Guarded::Done(released) => Ok(self.after_release(released, "manual").await),
            Guarded::Refused(reason) => Err(AppError::FailedPrecondition(reason)),
            Guarded::KeyExists { .. } => Err(AppError::NotFound("escrow hold")),
        }
    }

    /// ProcessExpiredEscrows, for a caller with the service role.
    pub async fn process_expired_escrows(&self, principal: &Principal, limit: i32) -> Result<usize, AppError> {
        let limit = match i64::from(limit) {
            0 => EXPIRED_BATCH_DEFAULT,
            n if (1..=EXPIRED_BATCH_MAX).contains(&n) => n,
            _ => {
                return Err(FieldError::new(
                    "limit",
                    format!("must be between 0 and {EXPIRED_BATCH_MAX} (0 = {EXPIRED_BATCH_DEFAULT})"),
                )
                .into());
            }
        };
        principal.ensure_service()?;
        self.release_expired_escrows(limit).await
    }

    /// Releases holds whose time is up; the scheduler and `release-expired` call this.
    ///
    /// `RELEASE_WORKERS` tasks each take `RELEASE_BATCH` holds at a time, release them
    /// in one transaction, then send their transfers and settle them in another. The
    /// tasks are spawned, so a caller that goes away (its client gone, its deadline
    /// passed) does not cut a batch between its commit and its transfers: the batches
    /// under way finish, and no new one starts. The holds not taken stay holding for the next call.
    pub async fn release_expired_escrows(&self, limit: i64) -> Result<usize, AppError> {
        let ids = self.store.expired_holds(Utc::now(), limit).await?;
        let mut batches: Vec<Vec<Uuid>> = ids.chunks(RELEASE_BATCH).map(<[Uuid]>::to_vec).collect();
        batches.reverse();
        let workers = batches.len().min(RELEASE_WORKERS);
        let queue = Arc::new(Mutex::new(batches));
        let stop = StopOnDrop::default();
        let handles: Vec<_> =
            (0..workers).map(|_| tokio::spawn(self.clone().release_batches(queue.clone(), stop.0.clone()))).collect();
        let mut count = 0;
        for handle in handles {
            count += handle.await.map_err(AppError::internal)?;
        }
        if count > 0 {
            tracing::info!(released = count, "expired escrow holds released");
        }
        Ok(count)
    }

    /// One worker: batches from `queue` until it is empty or `stop` is set.
    async fn release_batches(self, queue: Arc<Mutex<Vec<Vec<Uuid>>>>, stop: Arc<AtomicBool>) -> usize {
        let pending_days = self.settings.balance_pending_days;
        let plan = |context: &ReleaseContext| plan_release(context, pending_days, &self.connect);
        let mut count = 0;
        while !stop.load(Ordering::Relaxed) {
            let Some(batch) = queue.lock().ok().and_then(|mut queue| queue.pop()) else { break };
            let released = match self.store.release_expired(&batch, &plan).await {
                Ok(released) => released,
                Err(error) => {
                    tracing::error!(%error, holds = batch.len(), "expired escrow holds could not be released");
                    continue;
                }
            };
            count += released.len();
            self.send_released(released).await;
        }
        count
    }

    /// A batch's transfers go to the gateway at once (each with its own idempotency
    /// key, outside any transaction), and the answers are recorded together in one
    /// transaction. A transfer the gateway refused is settled failed beside its
    /// paid batch-mates; one it could not reach stays pending for the recovery job.
    async fn send_released(&self, released: Vec<ReleasePlan>) {
        let sends: Vec<_> = released
            .into_iter()
            .filter_map(|release| {
                crate::metrics::escrow_release("expired");
                let transfer = release.transfer?;
                crate::metrics::transfer(transfer.status.as_str());
                // Paid as written (the mock), or settled with nothing to send.
                if transfer.status != TransferStatus::Pending {
                    return None;
                }
                let app = self.clone();
                Some(tokio::spawn(async move { app.gateway_answer(&transfer).await }))
            })
            .collect();
        let mut settlements = Vec::with_capacity(sends.len());
        for send in sends {
            match send.await {
                Ok(Ok(Some(settlement))) => settlements.push(settlement),
                Ok(Ok(None)) => {}
                Ok(Err(error)) => tracing::error!(%error, "released escrow's transfer could not be sent"),
                Err(error) => tracing::error!(%error, "a released hold's transfer task failed"),
            }
        }
        let answers = self.store.settle_transfers(&settlements).await;
        for ((transfer, _), answer) in settlements.iter().zip(answers) {
            match answer {
                Ok(true) => crate::metrics::transfer(transfer.status.as_str()),
                // Another replica's recovery settled it first.
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(transfer_id = %transfer.id, %error, "released escrow's transfer could not be recorded")
                }
            }
        }
    }

    /// The committed release's transfer goes to the gateway; a gateway failure leaves
    /// the transfer failed with its money back on the platform, and is logged.
    async fn after_release(&self, release: ReleasePlan, trigger: &'static str) -> EscrowHold {
        crate::metrics::escrow_release(trigger);
        if let Some(transfer) = release.transfer {
            crate::metrics::transfer(transfer.status.as_str());
            if let Err(error) = self.send_transfer(transfer).await {
                tracing::error!(escrow_id = %release.hold.id, %error, "released escrow's transfer could not be recorded");
            }
        }
        release.hold
    }

    pub async fn cancel_escrow(&self, principal: &Principal, escrow_id: &str, reason: &str) -> Result<EscrowHold, AppError> {
        let id = parse_uuid("escrow_id", escrow_id)?;
        let reason = &domain::validation::parse_free_text("reason", reason, CANCELLATION_REASON_LEN_MAX)?;
        principal.ensure_service()?;
        self.store.escrow(id).await?.ok_or(AppError::NotFound("escrow hold"))?;
        match self.store.cancel_escrow(id, reason, Utc::now()).await? {
            Guarded::Done(hold) => Ok(hold),
            Guarded::Refused(reason) => Err(AppError::FailedPrecondition(reason)),
            Guarded::KeyExists { .. } => Err(AppError::NotFound("escrow hold")),
        }
    }

    /// Admins and services; the buyer of the payment; the merchant it is held for.
    /// Anybody else is told it is not found.
    async fn visible_hold(&self, principal: &Principal, hold: Option<EscrowHold>) -> Result<EscrowHold, AppError> {
        let Some(hold) = hold else { return Err(AppError::NotFound("escrow hold")) };
        let buyer = self.store.payment(hold.payment_id).await?.is_some_and(|p| principal.sees_user(&p.user_id));
        let seen = buyer || self.sees_account_id(principal, hold.merchant_id).await?;
        visible(Some(hold), "escrow hold", |_| seen)
    }
}
