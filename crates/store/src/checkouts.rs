//! A checkout's two writes: its payment with its key's claim, and later the session
//! the gateway opened for it. Concurrent checkouts write each together (issue 11);
//! a lone one keeps its one autocommit statement.

use std::collections::HashSet;

use app::StoreError;
use app::ports::{CreatePaymentOutcome, IdempotencyClaim, NewPayment, PaymentStore, SessionAttachment};
use chrono::Utc;
use domain::payment::Payment;
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::rows::{
    AnyQuery, PAYMENT_COLUMNS, WIDE_ROWS_PER_STATEMENT, first_of_value_rows, flag, micros, multi_row_insert, value_rows,
};
use crate::{Dialect, SqlStore, db, idempotency, rows};

/// The payment's columns, in the order `bind_payment` binds them.
const PAYMENT_VALUES: usize = 23;

/// What an attachment writes, in the order `attach_sessions_together` binds it; named
/// apart from the payment's columns, which the statement returns.
const ATTACHED_COLUMNS: [&str; 5] = ["answer_id", "new_session", "new_url", "new_intent", "new_updated_at"];

/// The attachments' UPDATE of `rows` payments, each still without a session. The
/// session's test is written so no index can answer it (`|| ''`): a plan made on an
/// empty table took the session index for `IS NULL`, a read of every payment awaiting
/// a session.
pub(crate) fn attach_sql(rows: usize) -> String {
    format!(
        "WITH answer ({}) AS (VALUES {}) UPDATE payments SET gateway_session_id = answer.new_session, \
         checkout_url = answer.new_url, updated_at = answer.new_updated_at, \
         gateway_payment_intent_id = COALESCE(gateway_payment_intent_id, answer.new_intent) FROM answer \
         WHERE payments.id = answer.answer_id AND payments.id IN ({}) AND (payments.gateway_session_id || '') IS NULL \
         RETURNING {PAYMENT_COLUMNS}",
        ATTACHED_COLUMNS.join(", "),
        value_rows(ATTACHED_COLUMNS.len(), rows),
        first_of_value_rows(ATTACHED_COLUMNS.len(), rows)
    )
}

impl SqlStore {
    /// The payments and their keys' claims, all or nothing: on PostgreSQL, when every
    /// payment has a key, one statement; else one transaction, the claims in one
    /// statement and the payments in another. Left out (`None`) for
    /// `create_payment_alone`: one whose key was used before or earlier in the batch
    /// (it finds what the key points at).
    pub(crate) async fn create_payments_together(
        &self,
        payments: &[NewPayment],
    ) -> Result<Vec<Option<CreatePaymentOutcome>>, StoreError> {
        let mut keys = HashSet::new();
        let firsts: Vec<&NewPayment> =
            payments.iter().filter(|new| new.claim.as_ref().is_none_or(|c| keys.insert((&c.scope, &c.key)))).collect();
        let claims: Vec<_> =
            firsts.iter().filter_map(|new| new.claim.as_ref().map(|claim| (claim, new.payment.id.to_string()))).collect();
        let written = if self.dialect() == Dialect::Postgres && claims.len() == firsts.len() && firsts.len() <= ONE_STATEMENT_ROWS
        {
            keyed_payments_in_one_statement(self.pool(), &firsts, &claims).await?
        } else {
            let mut tx = self.begin().await?;
            let claimed = idempotency::claim_all(&mut tx, &claims).await?;
            let written: HashSet<Uuid> = firsts
                .iter()
                .filter(|new| new.claim.as_ref().is_none_or(|c| claimed.contains(&(c.scope.clone(), c.key.clone()))))
                .map(|new| new.payment.id)
                .collect();
            let rows: Vec<&Payment> = payments.iter().map(|new| &new.payment).filter(|p| written.contains(&p.id)).collect();
            insert_payments(&mut tx, &rows).await?;
            tx.commit().await.map_err(db)?;
            written
        };
        let created =
            |new: &NewPayment| written.contains(&new.payment.id).then(|| CreatePaymentOutcome::Created(new.payment.clone()));
        Ok(payments.iter().map(created).collect())
    }

    #[tracing::instrument(skip_all, fields(payment_id = %new.payment.id))]
    pub(crate) async fn create_payment_alone(&self, new: &NewPayment) -> Result<CreatePaymentOutcome, StoreError> {
        let NewPayment { payment, claim } = new;
        // One autocommit statement where it can be (issue 11: round trips are what a
        // write costs under load): the payment alone, or on PostgreSQL the key's claim
        // and the payment together, the payment inserted only if the claim was. A key
        // claimed before (or SQLite with a key) takes the transaction below, which
        // finds what the key points at; a concurrent claim of the same key waits on
        // the key's unique index in either.
        let id = payment.id.to_string();
        let written = match claim {
            None => insert_payment(payment)?.execute(self.pool()).await.map_err(db)?.rows_affected() == 1,
            Some(claim) if self.dialect() == Dialect::Postgres => {
                keyed_payments_in_one_statement(self.pool(), &[new], &[(claim, id.clone())]).await?.contains(&payment.id)
            }
            Some(_) => false,
        };
        if written {
            return Ok(CreatePaymentOutcome::Created(payment.clone()));
        }
        let mut tx = self.begin().await?;
        if let Some(existing) = idempotency::claim_optional(&mut tx, claim.as_ref(), &id).await? {
            tx.rollback().await.map_err(db)?;
            let payment = match existing.resource_id.as_deref().map(Uuid::try_parse) {
                Some(Ok(id)) => self.payment(id).await?,
                _ => None,
            };
            return Ok(CreatePaymentOutcome::KeyExists { request_hash: existing.request_hash, method: existing.method, payment });
        }
        insert_payment(payment)?.execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(CreatePaymentOutcome::Created(payment.clone()))
    }

    /// The sessions in one autocommit statement (per 20), each written only if its
    /// payment has none yet. Left out (`None`) for `attach_session_alone`: one whose
    /// payment had a session already or is named earlier in the batch.
    pub(crate) async fn attach_sessions_together(
        &self,
        sessions: &[SessionAttachment],
    ) -> Result<Vec<Option<Payment>>, StoreError> {
        let mut seen = HashSet::new();
        let mut firsts: Vec<&SessionAttachment> = sessions.iter().filter(|s| seen.insert(s.payment_id)).collect();
        // In id order, as the event batches lock payments: a deadlock less likely.
        firsts.sort_by_key(|s| s.payment_id.to_string());
        let now = micros(Utc::now());
        let mut attached = std::collections::HashMap::with_capacity(firsts.len());
        for chunk in firsts.chunks(WIDE_ROWS_PER_STATEMENT) {
            let mut query = sqlx::query(AssertSqlSafe(attach_sql(chunk.len())));
            for session in chunk {
                query = query
                    .bind(session.payment_id.to_string())
                    .bind(&session.session_id)
                    .bind(&session.checkout_url)
                    .bind(session.gateway_transaction_id.as_deref())
                    .bind(now);
            }
            for row in query.fetch_all(self.pool()).await.map_err(db)? {
                let payment = rows::payment(&row)?;
                attached.insert(payment.id, payment);
            }
        }
        // The first attachment of a payment takes its row; a second finds it gone.
        Ok(sessions.iter().map(|session| attached.remove(&session.payment_id)).collect())
    }

    pub(crate) async fn attach_session_alone(&self, session: &SessionAttachment) -> Result<Payment, StoreError> {
        let SessionAttachment { payment_id, session_id, checkout_url, gateway_transaction_id } = session;
        // One round trip: the row comes back with the update; a payment that had its
        // session already (a concurrent retry attached it first) is read as it is.
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE payments SET gateway_session_id = $1, checkout_url = $2, updated_at = $3, \
             gateway_payment_intent_id = COALESCE(gateway_payment_intent_id, $5) WHERE id = $4 AND gateway_session_id IS NULL \
             RETURNING {PAYMENT_COLUMNS}"
        )))
        .bind(session_id)
        .bind(checkout_url)
        .bind(micros(Utc::now()))
        .bind(payment_id.to_string())
        .bind(gateway_transaction_id.as_deref())
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        match updated {
            Some(row) => rows::payment(&row),
            None => self.payment(*payment_id).await?.ok_or_else(|| StoreError::Corrupt(format!("payment {payment_id} vanished"))),
        }
    }
}

/// Payments of one autocommit statement at most: every statement must be all of the
/// batch (were a second to fail after the first committed, the requests answered
/// alone would find their payments written), and well below PostgreSQL's 65,535
/// bound values (29 each).
const ONE_STATEMENT_ROWS: usize = 200;

/// PostgreSQL, payments that each have a key (a batch, or one alone): their claims
/// and the payments whose claim is new, in one autocommit statement (a data-modifying
/// `WITH`); a transaction would add BEGIN and COMMIT to its two statements (issue 11).
/// The ids of the payments written.
async fn keyed_payments_in_one_statement(
    pool: &sqlx::AnyPool,
    payments: &[&NewPayment],
    claims: &[(&IdempotencyClaim, String)],
) -> Result<HashSet<Uuid>, StoreError> {
    let sql = format!(
        "WITH claim AS ({} RETURNING resource_id) INSERT INTO payments ({PAYMENT_COLUMNS}) SELECT {PAYMENT_COLUMNS} \
         FROM (VALUES {}) AS p ({PAYMENT_COLUMNS}) WHERE p.id IN (SELECT resource_id FROM claim) RETURNING id",
        idempotency::insert_rows(PAYMENT_VALUES * payments.len() + 1, claims.len()),
        value_rows(PAYMENT_VALUES, payments.len())
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for new in payments {
        query = bind_payment(query, &new.payment)?;
    }
    for (claim, resource_id) in idempotency::in_key_order(claims) {
        query = idempotency::bind(query, claim, resource_id);
    }
    let rows = query.fetch_all(pool).await.map_err(db)?;
    rows.iter().map(|row| rows::uuid(&rows::get::<String>(row, "id")?)).collect()
}

/// The payments' rows (one multi-row INSERT per 20).
async fn insert_payments(tx: &mut Transaction<'_, Any>, payments: &[&Payment]) -> Result<(), StoreError> {
    for chunk in payments.chunks(WIDE_ROWS_PER_STATEMENT) {
        let sql = multi_row_insert(&format!("payments ({PAYMENT_COLUMNS})"), PAYMENT_VALUES, chunk.len());
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for payment in chunk {
            query = bind_payment(query, payment)?;
        }
        query.execute(&mut **tx).await.map_err(db)?;
    }
    Ok(())
}

/// One payment's INSERT.
fn insert_payment(payment: &Payment) -> Result<AnyQuery<'_>, StoreError> {
    let sql = multi_row_insert(&format!("payments ({PAYMENT_COLUMNS})"), PAYMENT_VALUES, 1);
    bind_payment(sqlx::query(AssertSqlSafe(sql)), payment)
}

fn bind_payment<'q>(query: AnyQuery<'q>, payment: &'q Payment) -> Result<AnyQuery<'q>, StoreError> {
    let metadata = serde_json::to_string(&payment.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(query
        .bind(payment.id.to_string())
        .bind(&payment.user_id)
        .bind(payment.amount.minor())
        .bind(payment.amount.currency().code())
        .bind(payment.payment_type.as_str())
        .bind(payment.status.as_str())
        .bind(&payment.gateway_name)
        .bind(payment.gateway_session_id.as_deref())
        .bind(payment.gateway_payment_intent_id.as_deref())
        .bind(payment.checkout_url.as_deref())
        .bind(&payment.success_url)
        .bind(&payment.cancel_url)
        .bind(payment.merchant_id.map(|m| m.to_string()))
        .bind(payment.buyer_id.as_deref())
        .bind(flag(payment.escrow.is_some()))
        .bind(payment.escrow.as_ref().map_or(0, |e| i64::from(e.hold_days)))
        .bind(payment.refunded_minor)
        .bind(payment.idempotency_key.as_deref())
        .bind(metadata)
        .bind(payment.failure_reason.as_deref())
        .bind(payment.paid_at.map(micros))
        .bind(micros(payment.created_at))
        .bind(micros(payment.updated_at)))
}
