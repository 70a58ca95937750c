//! The idempotency claim, written in the caller's transaction.

use std::collections::HashSet;

use app::StoreError;
use app::ports::IdempotencyClaim;
use chrono::Utc;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::db;
use crate::inserts::Inserts;
use crate::rows::{WIDE_ROWS_PER_STATEMENT, micros, value_rows_from};

/// A key that was claimed before.
pub(crate) struct ExistingClaim {
    pub request_hash: String,
    pub method: String,
    pub resource_id: Option<String>,
}

impl ExistingClaim {
    /// The answer of a guarded write whose key was used before.
    pub(crate) fn into_guarded<T>(self) -> app::marketplace_ports::Guarded<T> {
        app::marketplace_ports::Guarded::KeyExists {
            request_hash: self.request_hash,
            method: self.method,
            resource_id: self.resource_id,
        }
    }
}

/// Claims `claim` for `resource_id`, or returns what the key already points at. On
/// PostgreSQL a concurrent claim of the same key waits here until ours commits.
pub(crate) async fn claim(
    tx: &mut Transaction<'_, Any>,
    claim: &IdempotencyClaim,
    resource_id: &str,
) -> Result<Option<ExistingClaim>, StoreError> {
    let inserted = bind(sqlx::query(AssertSqlSafe(insert_rows(1, 1))), claim, resource_id)
        .execute(&mut **tx)
        .await
        .map_err(db)?
        .rows_affected();
    if inserted == 1 {
        return Ok(None);
    }
    let row =
        sqlx::query("SELECT method, request_hash, resource_id FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2")
            .bind(&claim.scope)
            .bind(&claim.key)
            .fetch_one(&mut **tx)
            .await
            .map_err(db)?;
    Ok(Some(ExistingClaim {
        request_hash: row.try_get("request_hash").map_err(db)?,
        method: row.try_get("method").map_err(db)?,
        resource_id: row.try_get("resource_id").map_err(db)?,
    }))
}

/// Claims every key of `claims` (each with its resource) that is free, in one
/// statement per chunk; the (scope, key) pairs it claimed. A key used before is not among
/// them. On PostgreSQL a concurrent claim of the same key waits until ours commits.
pub(crate) async fn claim_all(
    tx: &mut Transaction<'_, Any>,
    claims: &[(&IdempotencyClaim, String)],
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut claimed = HashSet::with_capacity(claims.len());
    for chunk in in_key_order(claims).chunks(WIDE_ROWS_PER_STATEMENT) {
        let sql = format!("{} RETURNING scope, idempotency_key", insert_rows(1, chunk.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (claim, resource_id) in chunk {
            query = bind(query, claim, resource_id);
        }
        for row in query.fetch_all(&mut **tx).await.map_err(db)? {
            claimed.insert((row.try_get("scope").map_err(db)?, row.try_get("idempotency_key").map_err(db)?));
        }
    }
    Ok(claimed)
}

/// Adds the claims of `claims` as one plain multi-row INSERT, in key order, named
/// `name` (it returns a row per key): a key used before fails the statement it is
/// part of, and with it everything that statement writes.
pub(crate) fn add_claims(inserts: &mut Inserts, name: &'static str, claims: &[(&IdempotencyClaim, String)]) {
    let now = micros(Utc::now());
    let sql = format!("INSERT INTO {COLUMNS} VALUES {} RETURNING idempotency_key", value_rows_from(1, 6, claims.len()));
    inserts.add_named(name, &sql);
    for (claim, resource_id) in in_key_order(claims) {
        inserts
            .bind(claim.scope.as_str())
            .bind(claim.key.as_str())
            .bind(claim.method)
            .bind(claim.request_hash.as_str())
            .bind(resource_id.as_str())
            .bind(now);
    }
}

const COLUMNS: &str = "idempotency_keys (scope, idempotency_key, method, request_hash, resource_id, created_at)";

/// In key order: two batches claiming some of the same keys (on two replicas) then
/// wait on each other in one order, never in a cycle.
pub(crate) fn in_key_order<'c>(claims: &'c [(&'c IdempotencyClaim, String)]) -> Vec<&'c (&'c IdempotencyClaim, String)> {
    let mut claims: Vec<_> = claims.iter().collect();
    claims.sort_by(|(a, _), (b, _)| (&a.scope, &a.key).cmp(&(&b.scope, &b.key)));
    claims
}

/// The claims' multi-row INSERT (a taken key claims nothing), `rows` rows of six
/// values numbered from `$first` in the order `bind` binds them.
pub(crate) fn insert_rows(first: usize, rows: usize) -> String {
    format!("INSERT INTO {COLUMNS} VALUES {} ON CONFLICT (scope, idempotency_key) DO NOTHING", value_rows_from(first, 6, rows))
}

pub(crate) fn bind<'q>(query: AnyQuery<'q>, claim: &'q IdempotencyClaim, resource_id: &'q str) -> AnyQuery<'q> {
    query
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(claim.method)
        .bind(&claim.request_hash)
        .bind(resource_id)
        .bind(micros(Utc::now()))
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Claims the key, then lets the plan's verdict count. The key comes first so that
/// the retry of a write that succeeded replays it, even when the same request would
/// now be refused (say, a transfer that used up its payment's rest). `Err` is the
/// answer to return at once; the caller's transaction, dropped, rolls back.
pub(crate) async fn claim_for_plan<P, T>(
    tx: &mut Transaction<'_, Any>,
    key: Option<&IdempotencyClaim>,
    plan: Result<P, String>,
    resource_id: impl FnOnce(&P) -> String,
) -> Result<Result<P, app::marketplace_ports::Guarded<T>>, StoreError> {
    let resource = plan.as_ref().map(resource_id).unwrap_or_default();
    if let Some(existing) = claim_optional(tx, key, &resource).await? {
        return Ok(Err(existing.into_guarded()));
    }
    Ok(plan.map_err(app::marketplace_ports::Guarded::Refused))
}

/// Claims the key if there is one; `Some` when it was used before.
pub(crate) async fn claim_optional(
    tx: &mut Transaction<'_, Any>,
    key: Option<&IdempotencyClaim>,
    resource_id: &str,
) -> Result<Option<ExistingClaim>, StoreError> {
    match key {
        Some(key) => claim(tx, key, resource_id).await,
        None => Ok(None),
    }
}
