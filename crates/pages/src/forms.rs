//! What a page's form shows after a refused submit: the refusal beside the field
//! it names, or above the form when it names none, in the page's language.

use app::AppError;

use crate::i18n::Locale;

/// Where a message about no particular field goes.
pub const FORM: &str = "form";

#[derive(Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// `field` says which input a refusal without a field (a refusal for funds)
    /// belongs beside; `renames` maps the use case's field names onto the form's.
    pub fn from_app(error: AppError, locale: Locale, field: &'static str, renames: &[(&str, &'static str)]) -> Self {
        let key = problem_key(&error);
        let (name, message) = match error {
            AppError::InvalidArgument(e) => {
                (renames.iter().find(|(from, _)| *from == e.field).map_or(e.field, |(_, to)| *to), e.message)
            }
            AppError::FailedPrecondition(message) => (field, message),
            other => (FORM, api::error::to_status(other).message().to_owned()),
        };
        Self(vec![(name, said(locale, key, message))])
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| *name == field).map(|(_, message)| message.as_str())
    }

    pub fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// A fresh idempotency key for a form: submitting it twice makes one deposit or
/// one withdrawal.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The currencies the wallet forms offer.
pub const CURRENCIES: [&str; 3] = ["USD", "EUR", "RSD"];

/// Options of a choice, and whether each is the chosen one.
pub fn options<S: AsRef<str>>(values: impl IntoIterator<Item = S>, chosen: &str) -> Vec<(String, bool)> {
    values.into_iter().map(|v| (v.as_ref().to_owned(), v.as_ref() == chosen)).collect()
}

/// The text key of a use case's refusal, by its kind: what a page says about it
/// in a language other than the API's.
pub fn problem_key(error: &AppError) -> &'static str {
    match error {
        AppError::InvalidArgument(_) => "problem.invalid",
        AppError::NotFound(_) => "error.not_found",
        AppError::FailedPrecondition(_) => "problem.refused",
        AppError::IdempotencyConflict(_) => "problem.conflict",
        AppError::Unauthenticated(_) => "problem.unauthenticated",
        AppError::PermissionDenied(_) => "problem.forbidden",
        AppError::Unavailable(_) => "error.unavailable",
        AppError::Internal(_) => "error.title",
    }
}

/// English pages show the API's own message (English, the one its reference
/// explains); the others the text of the refusal's kind, never English internals.
pub fn said(locale: Locale, key: &str, api_message: String) -> String {
    if locale == Locale::En { api_message } else { locale.t(key).to_owned() }
}
