//! Table statistics on a PostgreSQL whose autovacuum is off.
//!
//! A pooled connection plans a prepared statement once and keeps that plan until a
//! table it reads is analyzed. Planned while a table was small (PostgreSQL takes a table
//! never analyzed for at least 10 pages), a lookup of two ids by the primary key reads
//! the whole table instead, and keeps doing so as it grows: in one benchmark run,
//! 14,500 scans reading 72 million rows of `payments` over 10,000 escrowed checkouts
//! (issue 11). Autovacuum's analysis is what replans them; where it is off, the service
//! analyzes a table once, when it first holds `ROWS_WORTH_ANALYZING` rows. Plans made
//! after that scale the table's measured density to its current size, so further growth
//! only makes index lookups cheaper beside a scan; analyzing again as tables doubled
//! measured 3-8 % slower (every connection plans its statements again each time).

use app::StoreError;
use sqlx::{AssertSqlSafe, Executor};

use crate::{Dialect, SqlStore, db, rows};

/// A table never analyzed is analyzed once it holds this many rows: past a few dozen
/// pages a lookup by key costs less than a scan in any plan.
const ROWS_WORTH_ANALYZING: i64 = 1000;

impl SqlStore {
    /// False on a PostgreSQL whose autovacuum is off: nothing then analyzes the tables,
    /// and a plan a connection made while a table was nearly empty stays as the table
    /// grows. SQLite has no such setting.
    pub async fn statistics_kept_fresh(&self) -> Result<bool, StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(true);
        }
        let row = sqlx::query("SELECT current_setting('autovacuum') AS setting").fetch_one(self.reads()).await.map_err(db)?;
        Ok(rows::get::<String>(&row, "setting")? == "on")
    }

    /// Analyzes this schema's tables that were never analyzed and now hold
    /// `ROWS_WORTH_ANALYZING` rows, and returns their names. For a PostgreSQL whose autovacuum is off; nothing on SQLite.
    pub async fn analyze_grown_tables(&self) -> Result<Vec<String>, StoreError> {
        if self.dialect == Dialect::Sqlite {
            return Ok(Vec::new());
        }
        let grown = sqlx::query(
            "SELECT s.relname::text AS name, format('%I.%I', s.schemaname, s.relname) AS qualified \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() AND s.n_live_tup >= $1 AND c.reltuples < 0 \
             ORDER BY s.relname",
        )
        .bind(ROWS_WORTH_ANALYZING)
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        let mut analyzed = Vec::with_capacity(grown.len());
        for row in &grown {
            let qualified: String = rows::get(row, "qualified")?;
            self.pool().execute(AssertSqlSafe(format!("ANALYZE {qualified}"))).await.map_err(db)?;
            analyzed.push(rows::get(row, "name")?);
        }
        Ok(analyzed)
    }
}
