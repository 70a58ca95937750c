//! Row ↔ domain conversions. Stored values are checked on the way in: a row that
//! does not parse is reported as corrupt, never guessed at.

use std::collections::HashMap;

use app::StoreError;
use chrono::{DateTime, Utc};
use domain::Currency;
use domain::Money;
use domain::payment::{EscrowTerms, Payment, PaymentStatus, PaymentType};
use sqlx::Row;
use sqlx::any::AnyRow;

pub(crate) const PAYMENT_COLUMNS: &str = "id, user_id, amount, currency, payment_type, status, gateway_name, \
    gateway_session_id, gateway_payment_intent_id, checkout_url, success_url, cancel_url, merchant_id, buyer_id, \
    escrow_enabled, escrow_hold_period_days, refunded_amount, idempotency_key, metadata, failure_reason, paid_at, \
    created_at, updated_at";

/// Rows per multi-row INSERT: far below SQLite's 32,766 bound parameters.
pub(crate) const ROWS_PER_INSERT: usize = 200;
/// Rows per multi-row statement whose rows are wide (a transfer's 20 columns).
pub(crate) const WIDE_ROWS_PER_STATEMENT: usize = 20;

/// `INSERT INTO {table} VALUES ($1, …), (…)` for `rows` rows of `columns` values.
pub(crate) fn multi_row_insert(table: &str, columns: usize, rows: usize) -> String {
    format!("INSERT INTO {table} VALUES {}", value_rows(columns, rows))
}

/// `($1, …), (…)`: `rows` rows of `columns` values, numbered in binding order.
pub(crate) fn value_rows(columns: usize, rows: usize) -> String {
    value_rows_from(1, columns, rows)
}

/// `value_rows` numbered from `$first`, for values bound after others.
pub(crate) fn value_rows_from(first: usize, columns: usize, rows: usize) -> String {
    let tuples: Vec<String> = (0..rows)
        .map(|row| {
            let placeholders: Vec<String> = (0..columns).map(|column| format!("${}", first + row * columns + column)).collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    tuples.join(", ")
}

/// The first column's placeholders of `value_rows(columns, rows)` (`$1, $(1 + columns),
/// …`), for `id IN (…)` beside a join to those rows: an update by ids from VALUES is
/// then planned on the primary key's index even on a table the planner takes for
/// empty. Joined to the VALUES alone, a generic plan made then scanned the whole
/// table, and a pooled connection kept that plan while the table grew (issue 11).
pub(crate) fn first_of_value_rows(columns: usize, rows: usize) -> String {
    (0..rows).map(|row| format!("${}", 1 + row * columns)).collect::<Vec<_>>().join(", ")
}

/// `$1, $2, …, $n`: a list of `n` values, as in `IN (…)`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn flag(value: bool) -> i64 {
    i64::from(value)
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn get<'r, T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>>(
    row: &'r AnyRow,
    column: &str,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(|e| corrupt(format!("column {column}: {e}")))
}

pub(crate) fn time(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(format!("timestamp {micros}")))
}

pub(crate) fn uuid(text: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::try_parse(text).map_err(|_| corrupt(format!("uuid {text}")))
}

pub(crate) fn payment(row: &AnyRow) -> Result<Payment, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    let payment_type = get::<String>(row, "payment_type")?;
    let status = get::<String>(row, "status")?;
    let escrow_enabled = get::<i64>(row, "escrow_enabled")? == 1;
    let merchant_id = get::<Option<String>>(row, "merchant_id")?.as_deref().map(uuid).transpose()?;
    let escrow = match (escrow_enabled, merchant_id) {
        (true, Some(merchant_id)) => Some(EscrowTerms {
            merchant_id,
            hold_days: i32::try_from(get::<i64>(row, "escrow_hold_period_days")?).map_err(corrupt)?,
        }),
        (true, None) => return Err(corrupt("escrowed payment without merchant")),
        (false, _) => None,
    };
    Ok(Payment {
        id: uuid(&get::<String>(row, "id")?)?,
        user_id: get(row, "user_id")?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        payment_type: PaymentType::from_str_opt(&payment_type).ok_or_else(|| corrupt(format!("payment_type {payment_type}")))?,
        status: PaymentStatus::from_str_opt(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        gateway_name: get(row, "gateway_name")?,
        gateway_session_id: get(row, "gateway_session_id")?,
        gateway_payment_intent_id: get(row, "gateway_payment_intent_id")?,
        checkout_url: get(row, "checkout_url")?,
        success_url: get(row, "success_url")?,
        cancel_url: get(row, "cancel_url")?,
        merchant_id,
        buyer_id: get(row, "buyer_id")?,
        escrow,
        refunded_minor: get(row, "refunded_amount")?,
        idempotency_key: get(row, "idempotency_key")?,
        metadata: serde_json::from_str(&get::<String>(row, "metadata")?).map_err(corrupt)?,
        failure_reason: get(row, "failure_reason")?,
        paid_at: get::<Option<i64>>(row, "paid_at")?.map(time).transpose()?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

/// A query over the `Any` driver, as built by `sqlx::query`.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// One page of a list, newest or oldest first as `order` says, with the total count.
/// `filter` is a WHERE clause over `$1..=$filter_params`, which `bind` supplies (with
/// owned values: it runs for both queries); LIMIT and OFFSET take the next numbers.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn paged<T, B>(
    pool: &sqlx::AnyPool,
    table: &str,
    columns: &str,
    filter: &str,
    order: &str,
    filter_params: usize,
    bind: B,
    page: app::ports::Page,
    map: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<(Vec<T>, i64), StoreError>
where
    B: for<'q> Fn(AnyQuery<'q>) -> AnyQuery<'q>,
{
    let (limit, offset) = (filter_params + 1, filter_params + 2);
    let select = format!("SELECT {columns} FROM {table} WHERE {filter} ORDER BY {order} LIMIT ${limit} OFFSET ${offset}");
    let rows = bind(sqlx::query(sqlx::AssertSqlSafe(select)))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(pool)
        .await
        .map_err(crate::db)?;
    let count = format!("SELECT COUNT(*) AS total FROM {table} WHERE {filter}");
    let total: i64 = bind(sqlx::query(sqlx::AssertSqlSafe(count)))
        .fetch_one(pool)
        .await
        .map_err(crate::db)?
        .try_get("total")
        .map_err(crate::db)?;
    Ok((rows.iter().map(map).collect::<Result<_, _>>()?, total))
}

/// The row of `table` with this id.
pub(crate) async fn by_id<T>(
    pool: &sqlx::AnyPool,
    table: &str,
    columns: &str,
    id: uuid::Uuid,
    map: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let sql = format!("SELECT {columns} FROM {table} WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(pool).await.map_err(crate::db)?;
    row.as_ref().map(map).transpose()
}

/// The rows of `table` with these ids, each mapped on its own: a row that does not
/// map fails its own id's read, not its batch-mates'. The list is padded to a power
/// of two with its last id, so batches of any size (up to the group commit's 32) share
/// a handful of prepared statements (each connection caches a bounded number).
pub(crate) async fn by_ids<'c, T>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    table: &str,
    columns: &str,
    ids: &[uuid::Uuid],
    map: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<HashMap<uuid::Uuid, Result<T, StoreError>>, StoreError> {
    let Some(last) = ids.last() else { return Ok(HashMap::new()) };
    let padded = ids.len().next_power_of_two();
    let sql = format!("SELECT {columns} FROM {table} WHERE id IN ({})", placeholders(padded));
    let query = ids
        .iter()
        .chain(std::iter::repeat_n(last, padded - ids.len()))
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, id| query.bind(id.to_string()));
    let rows = query.fetch_all(executor).await.map_err(crate::db)?;
    rows.iter().map(|row| Ok((uuid(&get::<String>(row, "id")?)?, map(row)))).collect()
}

/// Up to `limit` rows of `table` matching `condition` whose `time_column` is before
/// `before`, oldest first: the work queues of the scheduler jobs.
pub(crate) async fn due<T>(
    pool: &sqlx::AnyPool,
    (table, columns): (&str, &str),
    condition: &str,
    time_column: &str,
    before: DateTime<Utc>,
    limit: i64,
    map: fn(&AnyRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let sql =
        format!("SELECT {columns} FROM {table} WHERE {condition} AND {time_column} <= $1 ORDER BY {time_column}, id LIMIT $2");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(micros(before)).bind(limit).fetch_all(pool).await.map_err(crate::db)?;
    rows.iter().map(map).collect()
}
