//! Idempotency keys (SPEC §6): scoped to the caller, fingerprinted so that a retry is
//! told apart from a different request under the same key.

use domain::validation::IdempotencyKey;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::auth::Principal;
use crate::ports::IdempotencyClaim;

/// The claim for `key`, or `None` when the client sent none.
pub(crate) fn claim(
    principal: &Principal,
    key: Option<&IdempotencyKey>,
    method: &'static str,
    fields: &[String],
) -> Option<IdempotencyClaim> {
    key.map(|key| IdempotencyClaim {
        scope: principal.subject.clone(),
        key: key.as_str().to_owned(),
        method,
        // A JSON array is unambiguous whatever the fields contain.
        request_hash: hex::encode(Sha256::digest(serde_json::to_vec(fields).unwrap_or_default())),
    })
}

/// A used key is a replay only for the same method and the same fingerprint.
pub(crate) fn ensure_same_request(claim: Option<&IdempotencyClaim>, method: &str, request_hash: &str) -> Result<(), AppError> {
    match claim {
        Some(ours) if ours.method == method && ours.request_hash == request_hash => Ok(()),
        _ => Err(AppError::IdempotencyConflict("idempotency_key was already used with a different request".into())),
    }
}

/// The id a used key points at.
pub(crate) fn replayed_id(resource_id: Option<String>) -> Result<uuid::Uuid, AppError> {
    resource_id
        .as_deref()
        .and_then(|id| uuid::Uuid::try_parse(id).ok())
        .ok_or_else(|| AppError::Internal("idempotency key without its resource".into()))
}
