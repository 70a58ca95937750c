//! Disputes: what the gateways report opens, moves and closes them; admins and
//! services read them. A lost dispute takes the money out in the transaction that
//! records it (see `domain::disputes::lost_sources` for where from).

use chrono::Utc;
use domain::disputes::{CLOSE_REASON_LEN_MAX, ClosedByHand, Dispute, DisputeReport, DisputeStatus, Whereabouts, lost_sources};
use domain::escrow::EscrowStatus;
use domain::payment::{Payment, PaymentType, parse_uuid};
use domain::validation::{IdempotencyKey, parse_free_text};
use domain::{Currency, FieldError, Money};

use crate::auth::Principal;
use crate::dispute_ports::{DisputeContext, DisputePlan, ReportedDispute};
use crate::marketplace_ports::Guarded;
use crate::ports::Page;
use crate::{App, AppError, idempotency};

const CLOSE_METHOD: &str = "CloseDispute";

/// What CloseDispute asks, as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct CloseDispute<'a> {
    pub dispute_id: &'a str,
    /// Won or lost.
    pub outcome: DisputeStatus,
    pub reason: &'a str,
    pub idempotency_key: &'a str,
}

/// Whether the report changed something, and what the webhook log says about it.
type Applied = (bool, String);

/// The report in the payment's money; `Err` says why it cannot be about this payment.
fn report_for(payment: &Payment, reported: &ReportedDispute) -> Result<DisputeReport, String> {
    let currency = Currency::parse("currency", &reported.currency.to_uppercase()).map_err(|e| e.to_string())?;
    if currency != payment.amount.currency() {
        return Err(format!("the dispute is in {currency}, payment {} in {}", payment.id, payment.amount.currency()));
    }
    if reported.amount_minor <= 0 || reported.amount_minor > payment.amount.minor() || reported.fee_minor < 0 {
        return Err(format!(
            "the dispute's amount {} (fee {}) does not fit payment {} of {}",
            reported.amount_minor,
            reported.fee_minor,
            payment.id,
            payment.amount.minor()
        ));
    }
    Ok(DisputeReport {
        gateway_dispute_id: reported.gateway_dispute_id.clone(),
        amount: Money::from_minor(reported.amount_minor, currency),
        fee: Money::from_minor(reported.fee_minor, currency),
        reason: reported.reason.clone(),
        status: reported.status,
    })
}

/// Opens or moves the dispute; a lost one also ends a hold still holding (cancelled:
/// what the dispute did not take stays in escrow for a refund) and takes the money.
fn plan_dispute(context: &DisputeContext, gateway_name: &str, report: &DisputeReport) -> Result<DisputePlan, String> {
    let now = Utc::now();
    let dispute = match &context.existing {
        None => Dispute::open(context.payment.id, gateway_name, report, now),
        Some(existing) => existing.updated(report, now).ok_or_else(|| unchanged(existing, report))?,
    };
    if dispute.status != DisputeStatus::Lost {
        let entries = dispute.closing_entries(&[]).map_err(|e| format!("ledger entry refused: {e}"))?;
        return Ok(DisputePlan { dispute, hold: None, entries });
    }
    let in_escrow = context.hold.as_ref().is_some_and(|h| h.status != EscrowStatus::Released);
    let whereabouts = match (in_escrow, context.payment.payment_type) {
        (true, _) => Whereabouts::Escrow,
        (false, PaymentType::BalanceDeposit) => Whereabouts::Wallet { user_id: context.payment.user_id.clone() },
        (false, _) => Whereabouts::Split {
            fee_minor: context.fee_minor,
            transferred_minor: context.transferred_minor,
            vendor_account_id: context.vendor_account_id,
        },
    };
    let entries =
        dispute.closing_entries(&lost_sources(dispute.amount, &whereabouts)).map_err(|e| format!("ledger entry refused: {e}"))?;
    let hold = context
        .hold
        .as_ref()
        .filter(|h| h.status == EscrowStatus::Holding)
        .map(|h| h.cancelled(format!("dispute {} lost", dispute.gateway_dispute_id), now));
    Ok(DisputePlan { dispute, hold, entries })
}

/// Why a report changes nothing. A dispute closed by hand stays as the operator
/// closed it, and its money moved once: a gateway that later closes it otherwise
/// is told to a person (log and `gateway_mismatches_total{kind="dispute_closed_by_hand"}`).
fn unchanged(existing: &Dispute, report: &DisputeReport) -> String {
    let Some(closed) = &existing.closed_by_hand else {
        return format!("dispute {} is {}; the gateway says {}", existing.id, existing.status, report.status);
    };
    if !report.status.is_open() && report.status != existing.status {
        tracing::error!(
            dispute_id = %existing.id, closed_by = %closed.operator, ours = %existing.status, gateway = %report.status,
            "the gateway closed a dispute otherwise than the operator did; no money moved, a person must look"
        );
        crate::metrics::gateway_mismatch("dispute_closed_by_hand");
    }
    format!("dispute {} was closed by hand ({}); the gateway's {} changes nothing", existing.id, existing.status, report.status)
}

impl App {
    /// CloseDispute: an admin closes an open dispute won or lost, through the same
    /// plan as a gateway's report (won unfreezes the hold; lost takes the money),
    /// for a gateway that tells nothing of the outcome. Idempotent by key; a closed
    /// dispute is refused.
    pub async fn close_dispute(&self, principal: &Principal, input: CloseDispute<'_>) -> Result<Dispute, AppError> {
        let id = parse_uuid("dispute_id", input.dispute_id)?;
        if input.outcome.is_open() {
            return Err(FieldError::new("outcome", "must be won or lost").into());
        }
        let reason = parse_free_text("reason", input.reason, CLOSE_REASON_LEN_MAX)?;
        if reason.trim().is_empty() {
            return Err(FieldError::new("reason", "must say why the dispute is closed by hand").into());
        }
        let key = IdempotencyKey::parse_optional("idempotency_key", input.idempotency_key)?;
        principal.ensure_admin()?;
        let dispute = self.store.dispute(id).await?.ok_or(AppError::NotFound("dispute"))?;
        let fields = vec![id.to_string(), input.outcome.as_str().to_owned(), reason.clone()];
        let claim = idempotency::claim(principal, key.as_ref(), CLOSE_METHOD, &fields);
        let closed_by_hand = ClosedByHand { operator: principal.subject.clone(), reason };
        let plan = |context: &DisputeContext| {
            let existing = context.existing.as_ref().ok_or_else(|| format!("dispute {id} changed meanwhile"))?;
            let report = existing.closing_by_hand(input.outcome)?;
            let mut plan = plan_dispute(context, &existing.gateway_name, &report)?;
            plan.dispute.closed_by_hand = Some(closed_by_hand.clone());
            Ok(plan)
        };
        let gateway_dispute = (dispute.gateway_name.as_str(), dispute.gateway_dispute_id.as_str());
        match self.store.record_dispute(claim.as_ref(), gateway_dispute, dispute.payment_id, &plan).await? {
            Guarded::Done(plan) => {
                dispute_changed(&plan.dispute);
                // As stored (times in microseconds), like a replay's answer.
                self.store.dispute(plan.dispute.id).await?.ok_or(AppError::NotFound("dispute"))
            }
            Guarded::KeyExists { request_hash, method, resource_id } => {
                idempotency::ensure_same_request(claim.as_ref(), &method, &request_hash)?;
                let id = idempotency::replayed_id(resource_id)?;
                self.store.dispute(id).await?.ok_or(AppError::NotFound("dispute"))
            }
            Guarded::Refused(reason) => Err(AppError::FailedPrecondition(reason)),
        }
    }

    /// GetDispute: admins and services; anybody else is told it is not found.
    pub async fn dispute(&self, principal: &Principal, dispute_id: &str) -> Result<Dispute, AppError> {
        let id = parse_uuid("dispute_id", dispute_id)?;
        if !principal.is_privileged() {
            return Err(AppError::NotFound("dispute"));
        }
        self.store.dispute(id).await?.ok_or(AppError::NotFound("dispute"))
    }

    /// ListDisputes, newest first: admins and services.
    pub async fn disputes(
        &self,
        principal: &Principal,
        payment_id: &str,
        status: Option<DisputeStatus>,
        page: Page,
    ) -> Result<(Vec<Dispute>, i64), AppError> {
        let payment_id = domain::payment::parse_optional_uuid("payment_id", payment_id)?;
        principal.ensure_service()?;
        Ok(self.store.disputes(payment_id, status, page).await?)
    }

    /// A gateway's report of a dispute. Opening is idempotent by the gateway's
    /// dispute id, and a closed dispute never moves, so a redelivered event changes
    /// nothing: the report is applied first and logged after, like refund events.
    pub(crate) async fn apply_dispute_event(&self, gateway_name: &str, reported: &ReportedDispute) -> Result<Applied, AppError> {
        let Some(payment) = self.disputed_payment(gateway_name, reported).await? else {
            return Ok((false, format!("dispute {}: the payment is not one of ours", reported.gateway_dispute_id)));
        };
        let report = match report_for(&payment, reported) {
            Ok(report) => report,
            Err(reason) => return Ok((false, reason)),
        };
        let plan = |context: &DisputeContext| plan_dispute(context, gateway_name, &report);
        let gateway_dispute = (gateway_name, report.gateway_dispute_id.as_str());
        match self.store.record_dispute(None, gateway_dispute, payment.id, &plan).await? {
            Guarded::Done(plan) => {
                dispute_changed(&plan.dispute);
                Ok((true, format!("dispute {} is {}", plan.dispute.id, plan.dispute.status)))
            }
            Guarded::Refused(reason) => Ok((false, reason)),
            Guarded::KeyExists { .. } => Ok((false, format!("dispute {} is recorded already", report.gateway_dispute_id))),
        }
    }

    async fn disputed_payment(&self, gateway_name: &str, reported: &ReportedDispute) -> Result<Option<Payment>, AppError> {
        if let Some(id) = reported.payment_id
            && let Some(payment) = self.store.payment(id).await?
        {
            return Ok(Some(payment).filter(|p| p.gateway_name == gateway_name));
        }
        match &reported.gateway_transaction_id {
            Some(transaction) => Ok(self.store.payment_by_gateway_transaction(gateway_name, transaction).await?),
            None => Ok(None),
        }
    }
}

/// A dispute's change in the log. The platform hears of it by `dispute.opened` /
/// `dispute.closed` events, which the store writes in the dispute's own transaction
/// (`OutboxEvent::dispute`), so none is lost or told of a change not made.
fn dispute_changed(dispute: &Dispute) {
    tracing::info!(dispute_id = %dispute.id, payment_id = %dispute.payment_id, status = %dispute.status, "dispute changed");
}
