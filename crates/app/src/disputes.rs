//! Disputes: what the gateways report opens, moves and closes them; admins and
//! services read them. A lost dispute takes the money out in the transaction that
//! records it (see `domain::disputes::lost_sources` for where from).

use chrono::Utc;
use domain::disputes::{Dispute, DisputeReport, DisputeStatus, Whereabouts, lost_sources};
use domain::escrow::EscrowStatus;
use domain::payment::{Payment, PaymentType, parse_uuid};
use domain::{Currency, Money};

use crate::auth::Principal;
use crate::dispute_ports::{DisputeContext, DisputePlan, ReportedDispute};
use crate::marketplace_ports::Guarded;
use crate::ports::Page;
use crate::{App, AppError};

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
        Some(existing) => existing
            .updated(report, now)
            .ok_or_else(|| format!("dispute {} is {}; the gateway says {}", existing.id, existing.status, report.status))?,
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

impl App {
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
        match self.store.record_dispute(gateway_name, &report.gateway_dispute_id, payment.id, &plan).await? {
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
