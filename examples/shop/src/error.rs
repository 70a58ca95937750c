//! The shop's errors, and the one place they become HTTP answers.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    #[error("{0}")]
    Config(String),
    #[error("the catalogue {path}: {problem}")]
    Catalogue { path: String, problem: String },
    #[error(
        "vendor '{0}' has no connected account on the payment service: start the service with \
         VONDIPAYMENT_FIXTURES_ENABLED=true"
    )]
    VendorMissing(String),
    /// The service's answer, with its own message (which names the field).
    #[error("{}", .0.message())]
    Service(#[from] tonic::Status),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadForm(String),
    #[error("this form was not sent by this shop or is stale: reload the page and try again")]
    Csrf,
    #[error("cannot sign a token for the payment service: {0}")]
    Token(String),
    #[error("cannot render the page: {0}")]
    Template(#[from] askama::Error),
    #[error("cannot listen on {0}")]
    Bind(String, #[source] std::io::Error),
}

impl ShopError {
    pub fn status(&self) -> StatusCode {
        match self {
            ShopError::Service(status) => match status.code() {
                tonic::Code::InvalidArgument | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
                tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists | tonic::Code::Aborted => StatusCode::CONFLICT,
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            ShopError::NotFound(_) => StatusCode::NOT_FOUND,
            ShopError::BadForm(_) => StatusCode::BAD_REQUEST,
            ShopError::Csrf => StatusCode::FORBIDDEN,
            ShopError::VendorMissing(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ShopError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let page = crate::pages::ErrorPage { status: status.as_u16(), message: self.to_string() };
        match askama::Template::render(&page) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        }
    }
}
