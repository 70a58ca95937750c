//! The plans PostgreSQL makes on a table it takes for empty, for the statements that
//! change rows by id from a list of VALUES. A pooled connection keeps a prepared
//! statement's generic plan, made once, while the table grows: a plan that scans
//! the table costs nothing then and more with every row after (issue 11: the
//! transfers' settlements read 4.5 million rows in ten seconds), until the table is
//! analyzed (`statistics`).
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
    let plan = explain(connection, &format!("EXECUTE by_id ({nulls})")).await;
    connection.execute("DEALLOCATE by_id").await.expect("deallocate");
    plan
}

/// `EXPLAIN` of `statement` on this connection, its lines joined.
async fn explain(connection: &mut sqlx::AnyConnection, statement: &str) -> String {
    let explained = connection.fetch_all(AssertSqlSafe(format!("EXPLAIN {statement}"))).await.expect("explain");
    explained.iter().map(|row| row.get::<String, _>(0)).collect::<Vec<_>>().join("\n")
}

/// A migrated PostgreSQL database of its own, dropped by `drop`.
struct FreshDatabase {
    server: sqlx::AnyConnection,
    name: String,
    url: String,
    store: SqlStore,
}

impl FreshDatabase {
    async fn create() -> Self {
        sqlx::any::install_default_drivers();
        let admin = admin_url();
        let name = format!("vondi_plans_{}", uuid::Uuid::new_v4().simple());
        let mut server = sqlx::AnyConnection::connect(&admin).await.expect("PostgreSQL for tests");
        server.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create db");
        let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base));
        let options = StoreOptions {
            url: url.clone(),
            max_connections: 1,
            max_lifetime: Duration::from_secs(60),
            acquire_timeout: Duration::from_secs(10),
            sqlite_synchronous: Default::default(),
        };
        let store = SqlStore::connect(&options).await.expect("store");
        crate::migrate_up(&store).await.expect("migrate");
        Self { server, name, url, store }
    }

    async fn drop(mut self) {
        self.store.close().await;
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        self.server.execute(AssertSqlSafe(drop)).await.expect("drop test database");
    }
}

#[tokio::test]
async fn updates_by_id_from_values_enter_the_primary_key_on_an_empty_table() {
    let database = FreshDatabase::create().await;
    let mut connection = database.store.pool().acquire().await.expect("connection");
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
    database.drop().await;
}

/// Payments numbered `numbers`, in one statement.
async fn add_payments(connection: &mut sqlx::AnyConnection, numbers: std::ops::RangeInclusive<u32>) {
    let sql = format!(
        "INSERT INTO payments (id, user_id, amount, currency, payment_type, status, gateway_name, success_url, \
         cancel_url, created_at, updated_at) SELECT 'pay_' || n, 'user', 100, 'USD', 'product_b2c', 'succeeded', \
         'mock', 'https://shop.test/ok', 'https://shop.test/cancel', n, n FROM generate_series({}, {}) AS n",
        numbers.start(),
        numbers.end()
    );
    connection.execute(AssertSqlSafe(sql)).await.expect("payments");
}

/// The plan of `EXECUTE lookup`, prepared on `connection` before.
async fn plan_of_lookup(connection: &mut sqlx::AnyConnection) -> String {
    explain(connection, "EXECUTE lookup ('pay_1', 'pay_2')").await
}

#[tokio::test]
async fn a_grown_table_is_analyzed_and_its_kept_plans_made_again() {
    let database = FreshDatabase::create().await;
    // Another connection, as a pooled one of the service: it keeps the plan it made.
    let mut connection = sqlx::AnyConnection::connect(&database.url).await.expect("connection");
    connection.execute("SET plan_cache_mode = force_generic_plan").await.expect("generic plans");
    // Planned while the table is small, as the service's first statements are.
    add_payments(&mut connection, 1..=100).await;
    connection
        .execute("PREPARE lookup (text, text) AS SELECT id FROM payments WHERE id IN ($1, $2) ORDER BY id FOR UPDATE")
        .await
        .expect("prepare");
    let small = plan_of_lookup(&mut connection).await;
    assert!(small.contains("Seq Scan on payments"), "planned on a table taken for 10 pages, the lookup scans it:\n{small}");
    add_payments(&mut connection, 101..=5000).await;
    connection
        .execute(
            "INSERT INTO idempotency_keys (scope, idempotency_key, method, request_hash, resource_id, created_at) \
         SELECT 'scope', 'key' || n, 'm', 'h', 'r', n FROM generate_series(1, 10) AS n",
        )
        .await
        .expect("10 keys");
    assert!(plan_of_lookup(&mut connection).await.contains("Seq Scan on payments"), "the plan is kept as the table grows");

    // A backend's counts reach pg_stat_user_tables up to 10 s after its writes, unless forced.
    connection.execute("SELECT pg_stat_force_next_flush()").await.expect("flush statistics");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let analyzed = loop {
        let analyzed = database.store.analyze_grown_tables().await.expect("analyze");
        if !analyzed.is_empty() || std::time::Instant::now() > deadline {
            break analyzed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(analyzed, ["payments"], "only the table that grew past the threshold");
    let replanned = plan_of_lookup(&mut connection).await;
    assert!(replanned.contains("payments_pkey"), "made again, the plan enters the primary key:\n{replanned}");
    assert!(!replanned.contains("Seq Scan on payments"), "and no longer scans the table:\n{replanned}");
    assert_eq!(database.store.analyze_grown_tables().await.expect("analyze"), Vec::<String>::new(), "analyzed once");
    connection.close().await.expect("close");
    database.drop().await;
}
