//! `spawn_app` starts the real service on free ports with a fresh database; typed
//! helpers make each test read like its scenario.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::{self, CreateCheckoutSessionRequest};
use app::Role;
use server::config::Config;
use sqlx::Row;
use tonic::transport::Channel;

pub const JWT_SECRET: &str = "test-secret-of-enough-length-0123456789";
pub const MOCK_WEBHOOK_SECRET: &str = "whsec_test_mock";

#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates one test per database from an `async fn name(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Db::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::helpers::Db::Postgres).await } )*
        }
    };
}

/// The PostgreSQL server the tests use; each test gets its own database on it.
fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Test databases are named `vondi_test_{unix seconds}_{uuid}`: a leftover of a
/// crashed run is recognised by its age.
const TEST_DATABASE_PREFIX: &str = "vondi_test_";
/// Leftovers older than this are dropped when a test run starts.
const LEFTOVER_AGE_S: i64 = 3600;
/// PostgreSQL tests running at once: each service holds up to 10 connections, and
/// the server allows 100 for everything on the machine.
static POSTGRES_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
static LEFTOVERS_DROPPED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Drops the test databases a crashed run left behind (once per test process).
async fn drop_leftovers(connection: &mut sqlx::AnyConnection) {
    let rows = sqlx::query("SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'vondi_test_%'")
        .fetch_all(&mut *connection)
        .await;
    let now = chrono::Utc::now().timestamp();
    for row in rows.unwrap_or_default() {
        let name: String = row.try_get("datname").unwrap_or_default();
        let created =
            name.strip_prefix(TEST_DATABASE_PREFIX).and_then(|rest| rest.split('_').next()).and_then(|t| t.parse::<i64>().ok());
        // Names without a timestamp come from older runs: they are leftovers too.
        if created.is_none_or(|created| now - created > LEFTOVER_AGE_S) {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::Executor::execute(&mut *connection, sqlx::AssertSqlSafe(sql)).await;
        }
    }
}

/// A fresh, empty database URL.
pub async fn fresh_database(db: Db) -> String {
    let name = format!("{TEST_DATABASE_PREFIX}{}_{}", chrono::Utc::now().timestamp(), uuid::Uuid::new_v4().simple());
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join("vondipayment-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}", dir.join(format!("{name}.db")).display())
        }
        Db::Postgres => {
            sqlx::any::install_default_drivers();
            let admin = postgres_admin_url();
            let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for the tests (set TEST_DATABASE_URL): {e}"));
            LEFTOVERS_DROPPED.get_or_init(|| drop_leftovers(&mut connection)).await;
            sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_owned();
            format!("{base}/{name}")
        }
    }
}

/// Drops a test database on PostgreSQL; a no-op for SQLite.
pub async fn drop_database(url: &str) {
    let Some((_, name)) = url.rsplit_once('/').filter(|_| url.starts_with("postgres")) else { return };
    let admin = postgres_admin_url();
    if let Ok(mut connection) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
        let _ =
            sqlx::Executor::execute(&mut connection, sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .await;
    }
}

pub struct TestApp {
    /// Held while the test runs on PostgreSQL (see `POSTGRES_SLOTS`).
    _slot: Option<tokio::sync::SemaphorePermit<'static>>,
    pub running: Option<server::Running>,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub db_url: String,
    pub http: reqwest::Client,
    pub channel: Channel,
    pub data_dir: std::path::PathBuf,
}

pub fn test_config(db_url: &str, data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut vars: BTreeMap<String, String> = [
        ("ENV", "development"),
        ("LOG_LEVEL", "warn"),
        ("DB_URL", db_url),
        ("DB_MAX_CONNECTIONS", "10"),
        ("SERVER_GRPC_PORT", "0"),
        ("SERVER_METRICS_PORT", "0"),
        ("AUTH_JWT_SECRET", JWT_SECRET),
        ("GATEWAYS_MOCK_WEBHOOK_SECRET", MOCK_WEBHOOK_SECRET),
        ("DATA_DIR", data_dir.to_str().expect("utf-8 path")),
    ]
    .iter()
    .map(|(k, v)| (format!("VONDIPAYMENT_{k}"), (*v).to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert(format!("VONDIPAYMENT_{k}"), (*v).to_owned());
    }
    Config::from_vars(&vars).expect("test config")
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, &[]).await
}

pub async fn spawn_app_with(db: Db, extra: &[(&str, &str)]) -> TestApp {
    let slot = match db {
        Db::Postgres => Some(POSTGRES_SLOTS.acquire().await.expect("the semaphore is never closed")),
        Db::Sqlite => None,
    };
    let db_url = fresh_database(db).await;
    let data_dir = std::env::temp_dir().join("vondipayment-tests").join(uuid::Uuid::new_v4().simple().to_string());
    let config = test_config(&db_url, &data_dir, extra);
    if config.env == server::config::Environment::Production {
        // Production does not migrate on start: the operator runs `migrate up` first.
        let store = server::connect_store(&config).await.expect("database");
        store::migrate_up(&store).await.expect("migrate up");
        store.close().await;
    }
    let running = server::start(config).await.expect("service starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], running.api_addr.port()));
    let metrics_addr = SocketAddr::from(([127, 0, 0, 1], running.metrics_addr.port()));
    let channel = Channel::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("gRPC connects");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client");
    TestApp { _slot: slot, running: Some(running), addr, metrics_addr, db_url, http, channel, data_dir }
}

/// Polls `check` until it returns `Some`, for at most a minute (a loaded machine is slow).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub fn token(sub: &str, roles: &[Role]) -> String {
    api::mint_hs256(JWT_SECRET.as_bytes(), sub, roles, chrono::Duration::hours(1)).expect("token")
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("header"));
    request
}

pub fn checkout_request(user_id: &str, amount: &str, currency: &str) -> CreateCheckoutSessionRequest {
    CreateCheckoutSessionRequest {
        user_id: user_id.into(),
        amount: amount.into(),
        currency: currency.into(),
        payment_type: proto::PaymentType::ProductB2c.into(),
        success_url: "https://shop.example/success?session={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://shop.example/cancel".into(),
        ..Default::default()
    }
}

impl TestApp {
    pub fn payments(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.channel.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn create_checkout(
        &self,
        token: &str,
        request: CreateCheckoutSessionRequest,
    ) -> Result<proto::CreateCheckoutSessionResponse, tonic::Status> {
        self.payments().create_checkout_session(authed(request, token)).await.map(tonic::Response::into_inner)
    }

    pub async fn get_payment(&self, token: &str, payment_id: &str) -> Result<proto::Payment, tonic::Status> {
        let request = proto::GetPaymentRequest { payment_id: payment_id.into() };
        self.payments().get_payment(authed(request, token)).await.map(|r| r.into_inner().payment.expect("payment"))
    }

    /// Presses a button on the mock checkout page; returns the redirect's status and Location.
    pub async fn complete_on_mock_page(&self, session_id: &str, outcome: &str) -> (u16, String) {
        let response = self
            .http
            .post(self.url("/payment/mock/complete"))
            .form(&[("session_id", session_id), ("outcome", outcome)])
            .send()
            .await
            .expect("mock page answers");
        let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        (response.status().as_u16(), location)
    }

    /// A checkout for `user` paid through the mock page; returns the payment id.
    pub async fn paid_checkout(&self, user: &str, amount: &str, currency: &str) -> String {
        let created =
            self.create_checkout(&token(user, &[Role::User]), checkout_request(user, amount, currency)).await.expect("checkout");
        let (status, _) = self.complete_on_mock_page(&created.session_id, "success").await;
        assert_eq!(status, 303);
        created.payment_id
    }

    pub async fn post_webhook(&self, gateway: &str, body: &[u8], signature: Option<&str>) -> (u16, serde_json::Value) {
        let mut request = self.http.post(self.url(&format!("/webhooks/{gateway}"))).body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        let response = request.send().await.expect("webhook endpoint answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics_addr)).await.expect("metrics").text().await.expect("text")
    }

    async fn pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&self.db_url).await.expect("test pool")
    }

    /// Row counts of every table, to prove that a refused request changed nothing.
    pub async fn row_counts(&self) -> BTreeMap<&'static str, i64> {
        let pool = self.pool().await;
        let mut counts = BTreeMap::new();
        for table in [
            "payments",
            "idempotency_keys",
            "webhook_logs",
            "ledger_accounts",
            "journal_entries",
            "postings",
            "connected_accounts",
            "split_rules",
            "payment_splits",
            "transfers",
            "transfer_reversals",
            "payouts",
            "escrow_holds",
            "refunds",
            "wallet_transactions",
            "reconciliation_runs",
            "reconciliation_lines",
            "disputes",
        ] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n FROM {table}")))
                .fetch_one(&pool)
                .await
                .expect("count");
            counts.insert(table, row.get::<i64, _>("n"));
        }
        pool.close().await;
        counts
    }

    pub async fn ledger_balance(&self, account: &str) -> i64 {
        let pool = self.pool().await;
        let row = sqlx::query("SELECT balance FROM ledger_balances WHERE id = $1")
            .bind(account)
            .fetch_optional(&pool)
            .await
            .expect("balance");
        pool.close().await;
        row.map_or(0, |r| r.get::<i64, _>("balance"))
    }

    /// The number a `SELECT COUNT(*) AS n …` query answers.
    pub async fn count(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&pool).await.expect("count");
        pool.close().await;
        row.get::<i64, _>("n")
    }

    /// The stored status of a payment (`succeeded`, …), read from the database itself.
    pub async fn stored_payment_status(&self, payment_id: &str) -> Option<String> {
        let pool = self.pool().await;
        let row = sqlx::query("SELECT status FROM payments WHERE id = $1")
            .bind(payment_id)
            .fetch_optional(&pool)
            .await
            .expect("payment status");
        pool.close().await;
        row.map(|r| r.get::<String, _>("status"))
    }

    pub async fn execute(&self, sql: &str) {
        let pool = self.pool().await;
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&pool).await.expect("sql");
        pool.close().await;
    }

    /// Runs the real `check-ledger` command against this app's database.
    pub fn check_ledger(&self) -> (bool, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_vondipayment"))
            .arg("check-ledger")
            .env("VONDIPAYMENT_DB_URL", &self.db_url)
            .env("VONDIPAYMENT_LOG_LEVEL", "error")
            .env("VONDIPAYMENT_DATA_DIR", &self.data_dir)
            .output()
            .expect("check-ledger runs");
        let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), report)
    }

    pub fn assert_ledger_ok(&self) {
        let (ok, report) = self.check_ledger();
        assert!(ok, "check-ledger failed:\n{report}");
    }

    /// Stops the service and drops its PostgreSQL database (SQLite files live in the
    /// temp dir).
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        drop_database(&self.db_url).await;
    }
}

/// A test that failed before `stop` still drops its PostgreSQL database.
impl Drop for TestApp {
    fn drop(&mut self) {
        if self.running.is_none() || !self.db_url.starts_with("postgres") {
            return;
        }
        let url = self.db_url.clone();
        // The test's runtime is going away: a thread with its own does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(drop_database(&url));
        });
        let _ = dropped.join();
    }
}

/// A Stripe-scheme signature header for `body` at `timestamp`.
pub fn sign(secret: &str, body: &[u8], timestamp: i64) -> String {
    gateways::signature::sign(secret, body, timestamp)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A checkout.session.completed event for `session_id`.
pub fn completed_event(event_id: &str, session_id: &str) -> Vec<u8> {
    serde_json::json!({
        "id": event_id,
        "type": "checkout.session.completed",
        "data": {"object": {"id": session_id, "payment_intent": "pi_test"}}
    })
    .to_string()
    .into_bytes()
}

/// Marketplace clients and set-up shared by the vendor tests.
pub mod vendor {
    use api::proto::balance_service_client::BalanceServiceClient;
    use api::proto::connected_account_service_client::ConnectedAccountServiceClient;
    use api::proto::payout_service_client::PayoutServiceClient;
    use api::proto::split_service_client::SplitServiceClient;
    use api::proto::transfer_service_client::TransferServiceClient;
    use api::proto::{self, CreateAccountLinkRequest, CreateConnectedAccountRequest};
    use tonic::transport::Channel;

    use super::{TestApp, authed};

    impl TestApp {
        pub fn accounts(&self) -> ConnectedAccountServiceClient<Channel> {
            ConnectedAccountServiceClient::new(self.channel.clone())
        }
        pub fn splits(&self) -> SplitServiceClient<Channel> {
            SplitServiceClient::new(self.channel.clone())
        }
        pub fn transfers(&self) -> TransferServiceClient<Channel> {
            TransferServiceClient::new(self.channel.clone())
        }
        pub fn balances(&self) -> BalanceServiceClient<Channel> {
            BalanceServiceClient::new(self.channel.clone())
        }
        pub fn payouts(&self) -> PayoutServiceClient<Channel> {
            PayoutServiceClient::new(self.channel.clone())
        }

        /// A pending connected account owned by `owner` (its `metadata.user_id`).
        pub async fn create_account(&self, admin: &str, owner: &str) -> proto::ConnectedAccount {
            let request = CreateConnectedAccountRequest {
                email: format!("{owner}@vendors.example"),
                account_type: proto::ConnectedAccountType::Express.into(),
                business_type: "company".into(),
                country: "RS".into(),
                metadata: [("user_id".to_owned(), owner.to_owned())].into(),
            };
            self.accounts()
                .create_connected_account(authed(request, admin))
                .await
                .expect("account")
                .into_inner()
                .account
                .expect("account")
        }

        /// An account onboarded through the mock KYC page; returns its id.
        pub async fn onboarded_account(&self, admin: &str, owner: &str) -> String {
            let account = self.create_account(admin, owner).await;
            let link = CreateAccountLinkRequest {
                account_id: account.id.clone(),
                return_url: "https://market.example/onboarded".into(),
                refresh_url: "https://market.example/retry".into(),
            };
            let link = self.accounts().create_account_link(authed(link, admin)).await.expect("link").into_inner();
            let page = self.http.get(&link.url).send().await.expect("onboarding page");
            assert_eq!(page.status().as_u16(), 200, "the page only shows the link");
            let response = self.complete_onboarding(&link.url).await;
            assert_eq!(response.status().as_u16(), 303);
            account.id
        }

        /// The mock onboarding page's "Complete onboarding" button: its form posts
        /// the link's own parameters to the page's address.
        pub async fn complete_onboarding(&self, url: &str) -> reqwest::Response {
            let fields: Vec<(String, String)> = reqwest::Url::parse(url).expect("link").query_pairs().into_owned().collect();
            self.http.post(url).form(&fields).send().await.expect("onboarding form")
        }
    }
}

/// The real `vondipayment` binary, started as a separate process.
pub struct Process {
    pub child: std::process::Child,
    pub port: u16,
    pub metrics_port: u16,
    /// Log lines after "listening", collected by a thread so the pipe never fills.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Starts the binary in `dir` with only `envs` (on free ports) and waits until it listens.
pub fn start_process(dir: &std::path::Path, envs: &[(&str, &str)]) -> Process {
    use std::io::BufRead;
    std::fs::create_dir_all(dir).expect("dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vondipayment"));
    command
        .current_dir(dir)
        .env_clear()
        .env("VONDIPAYMENT_SERVER_GRPC_PORT", "0")
        .env("VONDIPAYMENT_SERVER_METRICS_PORT", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, value) in envs {
        command.env(format!("VONDIPAYMENT_{key}"), value);
    }
    let mut child = command.spawn().expect("the binary starts");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    // What the service logged before it listened is kept with the rest.
    let mut before = Vec::new();
    let listening = lines.by_ref().map_while(Result::ok).find(|l| {
        before.push(l.clone());
        l.contains("payment service listening")
    });
    let Some(listening) = listening else {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        panic!("the binary did not start: {stderr}");
    };
    let line: serde_json::Value = serde_json::from_str(&listening).expect("JSON log line");
    let port_of = |field: &str| -> u16 {
        line["fields"][field].as_str().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok()).expect("port")
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(before));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().expect("log").push(line);
        }
    });
    Process { port: port_of("api_addr"), metrics_port: port_of("metrics_addr"), child, log }
}

/// A test that fails must not leave service processes behind.
impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Process {
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://127.0.0.1:{}", self.port)).expect("uri").connect().await.expect("connect")
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>, String) {
        let killed = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(killed.success());
        let exit = self.child.wait().expect("exits");
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let log = self.log.lock().expect("log").clone();
        (exit, log, stderr)
    }
}
