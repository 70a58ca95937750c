//! The one place where use-case errors become gRPC statuses and HTTP responses.
//! Internal causes are logged here and never sent to the client.

use app::AppError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub fn to_status(error: AppError) -> tonic::Status {
    match error {
        AppError::InvalidArgument(e) => tonic::Status::invalid_argument(e.to_string()),
        AppError::NotFound(what) => tonic::Status::not_found(format!("{what} not found")),
        AppError::FailedPrecondition(m) => tonic::Status::failed_precondition(m),
        AppError::IdempotencyConflict(m) => tonic::Status::already_exists(m),
        AppError::Unauthenticated(m) => tonic::Status::unauthenticated(m),
        AppError::PermissionDenied(m) => tonic::Status::permission_denied(m),
        AppError::Unavailable(m) => tonic::Status::unavailable(m),
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, debug = ?cause, "internal error");
            tonic::Status::internal("internal error")
        }
    }
}

/// JSON body: `{"error": {"code": "INVALID_ARGUMENT", "message": "amount …"}}`.
pub struct HttpError(pub AppError);

impl From<AppError> for HttpError {
    fn from(error: AppError) -> Self {
        Self(error)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = to_status(self.0);
        let body = serde_json::json!({"error": {"code": code_name(status.code()), "message": status.message()}});
        (http_status(status.code()), axum::Json(body)).into_response()
    }
}

/// The HTTP status of a gRPC code: the JSON API and the pages answer alike.
pub fn http_status(code: tonic::Code) -> StatusCode {
    match code {
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists => StatusCode::CONFLICT,
        tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// SCREAMING_SNAKE names of gRPC codes, for JSON errors and metric labels.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
