//! `SplitStore`: split rules. Deleting a rule keeps its row (payment splits refer to it).

use app::StoreError;
use app::marketplace_ports::SplitStore;
use app::ports::Page;
use chrono::{DateTime, Utc};
use domain::Currency;
use domain::fees::{SplitRule, SplitRuleType, decimal_text, parse_decimal};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::rows::{corrupt, flag, get, micros, paged, time, uuid};
use crate::{SqlStore, db};

const COLUMNS: &str = "id, name, connected_account_id, rule_type, value, priority, is_active, currency, min_amount, max_amount, created_at, updated_at";

fn rule(row: &AnyRow) -> Result<SplitRule, StoreError> {
    let decimal = |column: &'static str| -> Result<Option<rust_decimal::Decimal>, StoreError> {
        get::<Option<String>>(row, column)?.map(|text| parse_decimal(column, &text).map_err(corrupt)).transpose()
    };
    Ok(SplitRule {
        id: uuid(&get::<String>(row, "id")?)?,
        name: get(row, "name")?,
        connected_account_id: get::<Option<String>>(row, "connected_account_id")?.as_deref().map(uuid).transpose()?,
        rule_type: SplitRuleType::from_str_opt(&get::<String>(row, "rule_type")?).ok_or_else(|| corrupt("rule_type"))?,
        value: decimal("value")?.ok_or_else(|| corrupt("rule value"))?,
        priority: i32::try_from(get::<i64>(row, "priority")?).map_err(corrupt)?,
        is_active: get::<i64>(row, "is_active")? == 1,
        currency: get::<Option<String>>(row, "currency")?
            .map(|c| Currency::parse("currency", &c).map_err(corrupt))
            .transpose()?,
        min_amount: decimal("min_amount")?,
        max_amount: decimal("max_amount")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

#[async_trait::async_trait]
impl SplitStore for SqlStore {
    async fn insert_split_rule(&self, rule: &SplitRule) -> Result<(), StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO split_rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(rule.id.to_string())
        .bind(&rule.name)
        .bind(rule.connected_account_id.map(|a| a.to_string()))
        .bind(rule.rule_type.as_str())
        .bind(decimal_text(rule.value))
        .bind(i64::from(rule.priority))
        .bind(flag(rule.is_active))
        .bind(rule.currency.map(|c| c.code()))
        .bind(rule.min_amount.map(decimal_text))
        .bind(rule.max_amount.map(decimal_text))
        .bind(micros(rule.created_at))
        .bind(micros(rule.updated_at))
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn split_rule(&self, id: Uuid) -> Result<Option<SplitRule>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM split_rules WHERE id = $1 AND deleted_at IS NULL")))
            .bind(id.to_string())
            .fetch_optional(self.reads())
            .await
            .map_err(db)?;
        row.as_ref().map(rule).transpose()
    }

    async fn split_rules(&self, account: Option<Uuid>, page: Page) -> Result<(Vec<SplitRule>, i64), StoreError> {
        let filter = "deleted_at IS NULL AND ($1 IS NULL OR connected_account_id = $1)";
        let account = account.map(|a| a.to_string());
        paged(self.reads(), "split_rules", COLUMNS, filter, "created_at, id", 1, |q| q.bind(account.clone()), page, rule).await
    }

    async fn fee_rules(&self, account: Uuid) -> Result<Vec<SplitRule>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM split_rules WHERE deleted_at IS NULL AND is_active = 1 \
             AND (connected_account_id IS NULL OR connected_account_id = $1)"
        )))
        .bind(account.to_string())
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        rows.iter().map(rule).collect()
    }

    async fn update_split_rule(&self, rule: &SplitRule) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE split_rules SET name = $1, value = $2, priority = $3, is_active = $4, min_amount = $5, max_amount = $6, \
             updated_at = $7 WHERE id = $8 AND deleted_at IS NULL",
        )
        .bind(&rule.name)
        .bind(decimal_text(rule.value))
        .bind(i64::from(rule.priority))
        .bind(flag(rule.is_active))
        .bind(rule.min_amount.map(decimal_text))
        .bind(rule.max_amount.map(decimal_text))
        .bind(micros(rule.updated_at))
        .bind(rule.id.to_string())
        .execute(self.pool())
        .await
        .map_err(db)?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn delete_split_rule(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let deleted = sqlx::query("UPDATE split_rules SET deleted_at = $1, is_active = 0 WHERE id = $2 AND deleted_at IS NULL")
            .bind(micros(now))
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(db)?
            .rows_affected();
        Ok(deleted == 1)
    }
}
