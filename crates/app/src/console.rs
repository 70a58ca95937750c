//! What the operator console reads: payments by any filter, a payment's ledger
//! entries and its gateway events, the webhook log and the ledger's invariants.
//! Admins and services only.

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::escrow::EscrowStatus;
use domain::payment::{Payment, PaymentStatus, parse_uuid};
use domain::transfers::Transfer;
use domain::validation::{IDENTIFIER_LEN_MAX, parse_identifier};

use crate::auth::Principal;
use crate::console_ports::{LedgerLine, PaymentFilter, WebhookEvent};
use crate::ports::Page;
use crate::{App, AppError};

impl PaymentFilter {
    /// From a form's texts; an empty text filters nothing. Dates are `YYYY-MM-DD`
    /// in UTC, `until` included.
    pub fn parse(status: &str, user_id: &str, gateway: &str, from: &str, until: &str) -> Result<Self, FieldError> {
        let status = match status.trim() {
            "" => None,
            text => Some(PaymentStatus::from_str_opt(text).ok_or_else(|| FieldError::new("status", "is not a payment status"))?),
        };
        let text = |field: &'static str, value: &str| -> Result<Option<String>, FieldError> {
            match value.trim() {
                "" => Ok(None),
                value => parse_identifier(field, value, IDENTIFIER_LEN_MAX).map(Some),
            }
        };
        Ok(Self {
            status,
            user_id: text("user_id", user_id)?,
            gateway_name: text("gateway", gateway)?,
            from: day("from", from, 0)?,
            until: day("until", until, 1)?,
        })
    }
}

/// The start of a day (plus `days_after`), or `None` for an empty text.
fn day(field: &'static str, text: &str, days_after: u64) -> Result<Option<DateTime<Utc>>, FieldError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|date| date.checked_add_days(chrono::Days::new(days_after)))
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| Some(at.and_utc()))
        .ok_or_else(|| FieldError::new(field, "must be a date as YYYY-MM-DD"))
}

impl App {
    /// The transfer that paid the vendor when the payment's escrow was released;
    /// `None` while its money is still on the platform (no escrow, holding,
    /// cancelled). A refund of a released payment reverses this transfer first: the
    /// refund takes only money still on the platform.
    pub async fn released_transfer(&self, principal: &Principal, payment_id: &str) -> Result<Option<Transfer>, AppError> {
        let id = parse_uuid("payment_id", payment_id)?;
        principal.ensure_service()?;
        let Some(hold) = self.store.escrow_by_payment(id).await? else { return Ok(None) };
        let Some(account) = self.store.payment(id).await?.and_then(|payment| payment.merchant_id) else { return Ok(None) };
        if hold.status != EscrowStatus::Released {
            return Ok(None);
        }
        let mut offset = 0;
        loop {
            let page = Page { limit: crate::PAGE_LIMIT_MAX, offset };
            let (transfers, total) = self.store.transfers(Some(account), page).await?;
            if let Some(found) = transfers.iter().find(|t| t.payment_id == Some(id)) {
                return Ok(Some(found.clone()));
            }
            offset += crate::PAGE_LIMIT_MAX;
            if transfers.is_empty() || offset >= total {
                return Ok(None);
            }
        }
    }

    pub async fn filtered_payments(
        &self,
        principal: &Principal,
        filter: &PaymentFilter,
        page: Page,
    ) -> Result<(Vec<Payment>, i64), AppError> {
        principal.ensure_service()?;
        Ok(self.store.filtered_payments(filter, page).await?)
    }

    pub async fn payment_ledger(&self, principal: &Principal, payment_id: &str) -> Result<Vec<LedgerLine>, AppError> {
        let id = parse_uuid("payment_id", payment_id)?;
        principal.ensure_service()?;
        Ok(self.store.payment_ledger(id).await?)
    }

    pub async fn payment_webhooks(&self, principal: &Principal, payment_id: &str) -> Result<Vec<WebhookEvent>, AppError> {
        let id = parse_uuid("payment_id", payment_id)?;
        principal.ensure_service()?;
        Ok(self.store.payment_webhooks(id).await?)
    }

    pub async fn webhook_log(&self, principal: &Principal, page: Page) -> Result<(Vec<WebhookEvent>, i64), AppError> {
        principal.ensure_service()?;
        Ok(self.store.webhook_log(page).await?)
    }

    /// The `check-ledger` command's invariants, for the console.
    pub async fn ledger_violations(&self, principal: &Principal) -> Result<Vec<domain::ledger::LedgerViolation>, AppError> {
        principal.ensure_service()?;
        self.check_ledger().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_names_the_field_it_cannot_read() {
        let all = PaymentFilter::parse("", " ", "", "", "").unwrap_or_default();
        assert_eq!(all, PaymentFilter::default());
        let some = PaymentFilter::parse("succeeded", "u-1", "mock", "2026-01-31", "2026-01-31");
        let some = some.as_ref().map_err(|e| e.field);
        assert_eq!(
            some.map(|f| (f.status, f.until.map(|u| u.to_rfc3339()))),
            Ok((Some(PaymentStatus::Succeeded), Some("2026-02-01T00:00:00+00:00".into())))
        );
        assert_eq!(PaymentFilter::parse("paid", "", "", "", "").map_err(|e| e.field), Err("status"));
        assert_eq!(PaymentFilter::parse("", "", "", "31.01.2026", "").map_err(|e| e.field), Err("from"));
        assert_eq!(PaymentFilter::parse("", "", "", "", "2026-02-30").map_err(|e| e.field), Err("until"));
    }
}
