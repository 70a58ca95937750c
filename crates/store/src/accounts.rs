//! `AccountStore`: connected accounts and onboarding links.

use std::collections::{BTreeSet, HashMap};

use app::StoreError;
use app::events_ports::OutboxEvent;
use app::marketplace_ports::{AccountLink, AccountStore, OnboardingOutcome};
use app::ports::Page;
use chrono::{DateTime, Utc};
use domain::accounts::{AccountStatus, AccountType, BusinessType, ConnectedAccount};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::known_vendors::Vendors;
use crate::rows::{ROWS_PER_INSERT, by_id, corrupt, flag, get, micros, paged, time, uuid, value_rows};
use crate::{SqlStore, db, outbox};

const COLUMNS: &str = "id, gateway_account_id, account_type, email, business_type, country, status, charges_enabled, \
    payouts_enabled, details_submitted, metadata, created_at, updated_at, payout_card_reference";

fn account(row: &AnyRow) -> Result<ConnectedAccount, StoreError> {
    let text = |column: &str| get::<String>(row, column);
    Ok(ConnectedAccount {
        id: uuid(&text("id")?)?,
        gateway_account_id: text("gateway_account_id")?,
        account_type: AccountType::from_str_opt(&text("account_type")?).ok_or_else(|| corrupt("account_type"))?,
        email: text("email")?,
        business_type: BusinessType::from_str_opt(&text("business_type")?).ok_or_else(|| corrupt("business_type"))?,
        country: text("country")?,
        status: AccountStatus::from_str_opt(&text("status")?).ok_or_else(|| corrupt("account status"))?,
        charges_enabled: get::<i64>(row, "charges_enabled")? == 1,
        payouts_enabled: get::<i64>(row, "payouts_enabled")? == 1,
        details_submitted: get::<i64>(row, "details_submitted")? == 1,
        metadata: serde_json::from_str(&text("metadata")?).map_err(corrupt)?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
        payout_card: get(row, "payout_card_reference")?,
    })
}

/// The vendors' accounts that exist, and the balances of the receivables named
/// beside them, read on the caller's connection (in its transaction, if any), not
/// locked: one statement for a batch's requests.
pub(crate) async fn vendors_with_receivables<'a>(
    connection: &mut sqlx::AnyConnection,
    requests: impl Iterator<Item = (Uuid, &'a str)>,
) -> Result<Vendors, StoreError> {
    let pairs: Vec<(String, &str)> =
        requests.collect::<BTreeSet<_>>().into_iter().map(|(id, receivable)| (id.to_string(), receivable)).collect();
    let columns: Vec<String> = COLUMNS.split(", ").map(|column| format!("a.{column}")).collect();
    let mut vendors = Vendors { accounts: HashMap::with_capacity(pairs.len()), receivables: HashMap::with_capacity(pairs.len()) };
    for chunk in pairs.chunks(ROWS_PER_INSERT) {
        // VALUES' columns are column1… on both databases (SQLite cannot rename them).
        let sql = format!(
            "SELECT {}, r.column2 AS receivable, b.balance AS receivable_balance FROM (VALUES {}) AS r \
             JOIN connected_accounts a ON a.id = r.column1 LEFT JOIN ledger_balances b ON b.id = r.column2",
            columns.join(", "),
            value_rows(2, chunk.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (id, receivable) in chunk {
            query = query.bind(id.as_str()).bind(*receivable);
        }
        for row in query.fetch_all(&mut *connection).await.map_err(db)? {
            let found = account(&row)?;
            vendors.accounts.insert(found.id, found);
            if let Some(balance) = get::<Option<i64>>(&row, "receivable_balance")? {
                vendors.receivables.insert(get::<String>(&row, "receivable")?, balance);
            }
        }
    }
    Ok(vendors)
}

/// `account.updated` with the account as the caller's transaction changed it.
async fn emit_updated(tx: &mut Transaction<'_, Any>, id: Uuid) -> Result<(), StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM connected_accounts WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(&mut **tx).await.map_err(db)?;
    outbox::emit(tx, Some(OutboxEvent::account(&account(&row)?))).await
}

#[async_trait::async_trait]
impl AccountStore for SqlStore {
    async fn insert_account(&self, account: &ConnectedAccount) -> Result<(), StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO connected_accounts ({COLUMNS}, owner_user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        )))
        .bind(account.id.to_string())
        .bind(&account.gateway_account_id)
        .bind(account.account_type.as_str())
        .bind(&account.email)
        .bind(account.business_type.as_str())
        .bind(&account.country)
        .bind(account.status.as_str())
        .bind(flag(account.charges_enabled))
        .bind(flag(account.payouts_enabled))
        .bind(flag(account.details_submitted))
        .bind(serde_json::to_string(&account.metadata).map_err(corrupt)?)
        .bind(micros(account.created_at))
        .bind(micros(account.updated_at))
        .bind(account.payout_card.as_deref())
        .bind(account.owner())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn account(&self, id: Uuid) -> Result<Option<ConnectedAccount>, StoreError> {
        by_id(self.reads(), "connected_accounts", COLUMNS, id, account).await
    }

    async fn accounts(
        &self,
        status: Option<AccountStatus>,
        owner: Option<&str>,
        page: Page,
    ) -> Result<(Vec<ConnectedAccount>, i64), StoreError> {
        // `$1 IS NULL` keeps one statement for "any status" and "this status".
        let filter = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR owner_user_id = $2 OR id = $2)";
        let (status, owner) = (status.map(|s| s.as_str().to_owned()), owner.map(str::to_owned));
        paged(
            self.reads(),
            "connected_accounts",
            COLUMNS,
            filter,
            "created_at DESC, id DESC",
            2,
            |q| q.bind(status.clone()).bind(owner.clone()),
            page,
            account,
        )
        .await
    }

    async fn account_by_gateway_id(&self, gateway_account_id: &str) -> Result<Option<ConnectedAccount>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM connected_accounts WHERE gateway_account_id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(gateway_account_id).fetch_optional(self.reads()).await.map_err(db)?;
        row.as_ref().map(account).transpose()
    }

    async fn apply_gateway_account(&self, updated: &ConnectedAccount, event_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE connected_accounts SET status = $1, charges_enabled = $2, payouts_enabled = $3, details_submitted = $4, \
             updated_at = $5, gateway_event_at = $6 WHERE id = $7 AND gateway_event_at <= $6",
        )
        .bind(updated.status.as_str())
        .bind(flag(updated.charges_enabled))
        .bind(flag(updated.payouts_enabled))
        .bind(flag(updated.details_submitted))
        .bind(micros(updated.updated_at))
        .bind(event_at)
        .bind(updated.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if changed == 1 {
            emit_updated(&mut tx, updated.id).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(changed == 1)
    }

    async fn register_payout_card(
        &self,
        link_id: Uuid,
        card_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(row) = sqlx::query("SELECT account_id FROM account_links WHERE id = $1")
            .bind(link_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let account_id = uuid(&get::<String>(&row, "account_id")?)?;
        sqlx::query("UPDATE account_links SET used_at = COALESCE(used_at, $1) WHERE id = $2")
            .bind(micros(now))
            .bind(link_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let enabled = sqlx::query(
            "UPDATE connected_accounts SET payout_card_reference = $1, status = 'active', charges_enabled = 1, \
             payouts_enabled = 1, details_submitted = 1, updated_at = $2 WHERE id = $3 AND status <> 'disabled'",
        )
        .bind(card_reference)
        .bind(micros(now))
        .bind(account_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if enabled == 1 {
            emit_updated(&mut tx, account_id).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok((enabled == 1).then_some(account_id))
    }

    async fn insert_account_link(&self, link: &AccountLink) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO account_links (id, account_id, return_url, refresh_url, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(link.id.to_string())
        .bind(link.account_id.to_string())
        .bind(&link.return_url)
        .bind(&link.refresh_url)
        .bind(micros(link.expires_at))
        .bind(micros(Utc::now()))
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn account_link(&self, account_id: Uuid, link_id: Uuid) -> Result<Option<(AccountLink, bool)>, StoreError> {
        let row = sqlx::query(
            "SELECT return_url, refresh_url, expires_at, used_at FROM account_links WHERE id = $1 AND account_id = $2",
        )
        .bind(link_id.to_string())
        .bind(account_id.to_string())
        .fetch_optional(self.reads())
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let link = AccountLink {
            id: link_id,
            account_id,
            return_url: get(&row, "return_url")?,
            refresh_url: get(&row, "refresh_url")?,
            expires_at: time(get(&row, "expires_at")?)?,
        };
        Ok(Some((link, get::<Option<i64>>(&row, "used_at")?.is_some())))
    }

    async fn complete_onboarding(
        &self,
        account_id: Uuid,
        link_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<OnboardingOutcome>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT return_url, refresh_url, expires_at, used_at FROM account_links WHERE id = $1 AND account_id = $2{}",
            self.dialect().for_update()
        );
        let Some(link) = sqlx::query(AssertSqlSafe(sql))
            .bind(link_id.to_string())
            .bind(account_id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let used: Option<i64> = get(&link, "used_at")?;
        if used.is_some() || get::<i64>(&link, "expires_at")? < micros(now) {
            return Ok(Some(OnboardingOutcome::Expired { refresh_url: get(&link, "refresh_url")? }));
        }
        sqlx::query("UPDATE account_links SET used_at = $1 WHERE id = $2")
            .bind(micros(now))
            .bind(link_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(
            "UPDATE connected_accounts SET status = 'active', charges_enabled = 1, payouts_enabled = 1, details_submitted = 1, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(micros(now))
        .bind(account_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        emit_updated(&mut tx, account_id).await?;
        let payload = serde_json::json!({
            "id": format!("evt_{}", link_id.simple()),
            "type": "account.updated",
            "data": {"object": {"id": account_id.to_string(), "charges_enabled": true, "payouts_enabled": true, "details_submitted": true}}
        });
        sqlx::query(
            "INSERT INTO webhook_logs (id, gateway_name, event_id, event_type, payload, signature_valid, processed, received_at) \
             VALUES ($1, 'mock', $2, 'account.updated', $3, 1, 1, $4)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(format!("evt_{}", link_id.simple()))
        .bind(payload.to_string())
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Some(OnboardingOutcome::Completed { return_url: get(&link, "return_url")? }))
    }
}
