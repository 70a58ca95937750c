//! tonic services. Each method: read the principal, convert the request, call the
//! use case, convert the answer; nothing else.

pub mod accounts;
pub mod balances;
pub mod disputes;
pub mod escrow;
pub mod events;
pub mod payment;
pub mod payouts;
pub mod reconciliation;
pub mod splits;
pub mod transfers;
pub mod wallet;

use app::Principal;

/// The principal the auth middleware attached; absent only if the middleware was
/// configured to skip this method.
pub(crate) fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| tonic::Status::unauthenticated("this method needs authorization: Bearer <JWT>"))
}

/// A status filter: Unspecified means "any"; an unknown number is bad input.
pub(crate) fn optional_enum<T>(
    field: &'static str,
    value: i32,
    from_wire: fn(i32) -> Option<T>,
) -> Result<Option<T>, tonic::Status> {
    match (value, from_wire(value)) {
        (0, _) => Ok(None),
        (_, Some(parsed)) => Ok(Some(parsed)),
        (_, None) => Err(tonic::Status::invalid_argument(format!("{field} {value} is not a known value"))),
    }
}

/// A list page; a bad limit or offset names its field.
pub(crate) fn page(limit: i32, offset: i32) -> Result<app::ports::Page, tonic::Status> {
    app::ports::Page::parse(limit, offset).map_err(|e| crate::error::to_status(e.into()))
}

/// Wire timestamps to UTC; out-of-range values are bad input.
pub(crate) fn time(
    field: &'static str,
    value: Option<prost_types::Timestamp>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, tonic::Status> {
    value
        .map(|ts| {
            u32::try_from(ts.nanos)
                .ok()
                .and_then(|nanos| chrono::DateTime::from_timestamp(ts.seconds, nanos))
                .ok_or_else(|| tonic::Status::invalid_argument(format!("{field} is not a valid timestamp")))
        })
        .transpose()
}
