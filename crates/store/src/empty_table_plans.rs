//! The plans PostgreSQL makes on a table it takes for empty, for the statements that
//! change rows by id from a list of VALUES. A pooled connection keeps a prepared
//! statement's generic plan, made once, while the table grows: a plan that scans
//! the table costs nothing then and more with every row after (issue 11: the
//! transfers' settlements read 4.5 million rows in ten seconds).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, Row};

use crate::{SqlStore, StoreOptions, checkouts, payment_events, transfers};

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The generic plan of `sql`, whose values are `rows` rows of `row_types`, on this connection.
async fn generic_plan(connection: &mut sqlx::AnyConnection, sql: &str, row_types: &[&str], rows: usize) -> String {
    let types = vec![row_types.join(", "); rows].join(", ");
    connection.execute(AssertSqlSafe(format!("PREPARE by_id ({types}) AS {sql}"))).await.expect("prepare");
    let nulls = vec!["NULL"; row_types.len() * rows].join(", ");
    let explained = connection.fetch_all(AssertSqlSafe(format!("EXPLAIN EXECUTE by_id ({nulls})"))).await.expect("explain");
    connection.execute("DEALLOCATE by_id").await.expect("deallocate");
    explained.iter().map(|row| row.get::<String, _>(0)).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn updates_by_id_from_values_enter_the_primary_key_on_an_empty_table() {
    sqlx::any::install_default_drivers();
    let admin = admin_url();
    let name = format!("vondi_plans_{}", uuid::Uuid::new_v4().simple());
    let mut server = sqlx::AnyConnection::connect(&admin).await.expect("PostgreSQL for tests");
    server.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create db");
    let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base));
    let options = StoreOptions {
        url,
        max_connections: 1,
        max_lifetime: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(10),
        sqlite_synchronous: Default::default(),
    };
    let store = SqlStore::connect(&options).await.expect("store");
    crate::migrate_up(&store).await.expect("migrate");
    let mut connection = store.pool().acquire().await.expect("connection");
    connection.execute("SET plan_cache_mode = force_generic_plan").await.expect("generic plans");
    const TEXT: &str = "text";
    const NUMBER: &str = "bigint";
    let settled_transfer = [TEXT, TEXT, NUMBER, NUMBER, TEXT, NUMBER, NUMBER, NUMBER];
    let statements = [
        ("transfers", transfers::settle_sql(3), settled_transfer.as_slice()),
        ("payments", payment_events::settle_sql(3), &[TEXT, TEXT, TEXT, TEXT, NUMBER, NUMBER, TEXT]),
        ("payments", checkouts::attach_sql(3), &[TEXT, TEXT, TEXT, TEXT, NUMBER]),
    ];
    for (table, sql, row_types) in statements {
        let plan = generic_plan(&mut connection, &sql, row_types, 3).await;
        assert!(plan.contains(&format!("{table}_pkey")), "enters {table} by its primary key:\n{plan}");
        assert!(!plan.contains(&format!("Seq Scan on {table}")), "never reads all of {table}:\n{plan}");
    }
    // Without the ids' list (the statements before), such a plan reads the whole table.
    let joined_alone = transfers::settle_sql(3).replace(" AND transfers.id IN ($1, $9, $17)", "");
    assert_ne!(joined_alone, transfers::settle_sql(3));
    let plan = generic_plan(&mut connection, &joined_alone, &settled_transfer, 3).await;
    assert!(plan.contains("Seq Scan on transfers"), "the plans above would have been made without the ids:\n{plan}");
    drop(connection);
    store.pool().close().await;
    server.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await.expect("drop test database");
}
