//! The use cases' error catalogue. The API edge maps each variant to a gRPC/HTTP
//! status in one place; messages are safe to show to clients.

use domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    InvalidArgument(#[from] FieldError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    IdempotencyConflict(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    Unavailable(String),
    /// Never shown to clients: the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }
}

/// A gateway's answer to a call the client waits for. Nothing moved in any of these
/// cases: the caller has not written money for them.
impl From<crate::ports::GatewayError> for AppError {
    fn from(error: crate::ports::GatewayError) -> Self {
        use crate::ports::GatewayError::*;
        match error {
            Unavailable(cause) => {
                tracing::warn!(cause, "payment gateway unavailable");
                Self::Unavailable("the payment gateway is unavailable; retry with the same idempotency_key".into())
            }
            Misconfigured(cause) => {
                tracing::error!(cause, "the payment gateway refused our credentials: check the gateway's API key");
                Self::Unavailable("the payment gateway cannot be used right now; the operator has been alerted".into())
            }
            Refused(message) => Self::FailedPrecondition(format!("the payment gateway refused: {message}")),
            Invalid(message) => Self::InvalidArgument(FieldError::new("gateway", message)),
        }
    }
}

/// Errors of a storage adapter. Everything but a record the request named and the
/// write found missing is internal. Clone: a failed batch read fails each of its reads.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// A record the request names (a transfer's vendor account) is not there: read
    /// in the write's own transaction, so nothing was written.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An account that must not go negative would: the transaction was rolled back.
    #[error("insufficient funds on {account}")]
    InsufficientFunds { account: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::NotFound(what),
            other => Self::internal(other),
        }
    }
}
