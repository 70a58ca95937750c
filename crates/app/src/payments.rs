//! Reading payments, and the health of what they depend on.

use domain::FieldError;
use domain::payment::{Payment, parse_uuid};
use domain::validation::{IDENTIFIER_LEN_MAX, parse_identifier};

use crate::auth::{Principal, visible};
use crate::ports::Page;
use crate::{App, AppError};

pub const PAGE_LIMIT_DEFAULT: i64 = 20;
pub const PAGE_LIMIT_MAX: i64 = 100;

impl Page {
    /// `limit` 0 means the default; more than the maximum is an error, not a surprise.
    pub fn parse(limit: i32, offset: i32) -> Result<Self, FieldError> {
        let limit = i64::from(limit);
        if !(0..=PAGE_LIMIT_MAX).contains(&limit) {
            return Err(FieldError::new("limit", format!("must be between 0 and {PAGE_LIMIT_MAX} (0 = {PAGE_LIMIT_DEFAULT})")));
        }
        if offset < 0 {
            return Err(FieldError::new("offset", "must not be negative"));
        }
        Ok(Self { limit: if limit == 0 { PAGE_LIMIT_DEFAULT } else { limit }, offset: i64::from(offset) })
    }
}

impl App {
    pub async fn payment(&self, principal: &Principal, payment_id: &str) -> Result<Payment, AppError> {
        let id = parse_uuid("payment_id", payment_id)?;
        principal.ensure_user()?;
        let payment = self.payment_reads.submit(id).await.map_err(AppError::internal)??;
        visible(payment, "payment", |p| principal.sees_user(&p.user_id))
    }

    pub async fn user_payments(&self, principal: &Principal, user_id: &str, page: Page) -> Result<(Vec<Payment>, i64), AppError> {
        domain::payment::parse_client_id("user_id", user_id)?;
        principal.ensure_acts_for(user_id)?;
        Ok(self.store.user_payments(user_id, page).await?)
    }

    /// The caller's payment behind a gateway session: the page a gateway's
    /// checkout returns to knows only the session id.
    pub async fn payment_by_session(&self, principal: &Principal, session_id: &str) -> Result<Payment, AppError> {
        parse_identifier("session_id", session_id, IDENTIFIER_LEN_MAX)?;
        principal.ensure_user()?;
        for name in self.gateways.names() {
            if let Some(payment) = self.store.payment_by_session(name, session_id).await? {
                return visible(Some(payment), "payment", |p| principal.sees_user(&p.user_id));
            }
        }
        Err(AppError::NotFound("payment"))
    }

    /// The configured gateways' names, the default first (a deposit form's choice).
    pub fn gateway_names(&self) -> Vec<String> {
        let default = self.gateways.default_name();
        let others = self.gateways.names().filter(|name| *name != default);
        std::iter::once(default).chain(others).map(str::to_owned).collect()
    }

    /// "SERVING" when the database answers.
    pub async fn health(&self) -> Result<(), AppError> {
        self.store.ping().await.map_err(|error| {
            tracing::warn!(%error, "health check: database does not answer");
            AppError::Unavailable("database is not reachable".into())
        })
    }

    pub async fn check_ledger(&self) -> Result<Vec<domain::ledger::LedgerViolation>, AppError> {
        Ok(self.store.check_ledger().await?)
    }
}
