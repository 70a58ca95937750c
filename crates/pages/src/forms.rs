//! What a page's form shows after a refused submit: the API's message beside the
//! field it names, or above the form when it names none.

use app::AppError;

/// Where a message about no particular field goes.
pub const FORM: &str = "form";

#[derive(Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    /// `field` says which input a refusal without a field (a refusal for funds)
    /// belongs beside; `renames` maps the use case's field names onto the form's.
    pub fn from_app(error: AppError, field: &'static str, renames: &[(&str, &'static str)]) -> Self {
        let (name, message) = match error {
            AppError::InvalidArgument(e) => {
                (renames.iter().find(|(from, _)| *from == e.field).map_or(e.field, |(_, to)| *to), e.message)
            }
            AppError::FailedPrecondition(message) => (field, message),
            other => (FORM, api::error::to_status(other).message().to_owned()),
        };
        Self(vec![(name, message)])
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
