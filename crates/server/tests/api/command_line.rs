use std::process::Command;

use crate::helpers::{Db, fresh_database, spawn_app};
use crate::on_both_databases;

const BINARY: &str = env!("CARGO_BIN_EXE_vondipayment");

on_both_databases!(
    check_ledger_exits_1_when_an_invariant_is_broken,
    migrations_go_down_and_up_again,
    release_expired_releases_due_holds_for_cron,
    the_demo_pays_a_first_checkout_on_a_running_service
);

/// `demo` against a running service, with the service's secret and database: five
/// numbered steps, exit 0, and its payment succeeded in that database.
async fn the_demo_pays_a_first_checkout_on_a_running_service(db: Db) {
    let app = spawn_app(db).await;
    let mut demo = Command::new(BINARY);
    demo.args(["demo", "--url", &app.url("")])
        .env_clear()
        .env("VONDIPAYMENT_DB_URL", &app.db_url)
        .env("VONDIPAYMENT_AUTH_JWT_SECRET", crate::helpers::JWT_SECRET)
        .env("VONDIPAYMENT_DATA_DIR", &app.data_dir)
        .env("VONDIPAYMENT_LOG_LEVEL", "error");
    // Off the runtime's threads: the service in this process answers the demo.
    let output = tokio::task::spawn_blocking(move || demo.output().expect("demo runs")).await.expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    for step in ["1. token", "2. checkout", "3. pay", "4. verify", "5. ledger"] {
        assert!(stdout.contains(step), "{step} missing in:\n{stdout}");
    }
    assert!(
        stdout.contains("PAYMENT_STATUS_SUCCEEDED") && stdout.contains("303 redirect to https://shop.example/ok"),
        "{stdout}"
    );
    let payment_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("done: payment "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no payment id in:\n{stdout}"));
    assert_eq!(app.stored_payment_status(payment_id).await.as_deref(), Some("succeeded"));
    app.assert_ledger_ok();
    app.stop().await;
}

#[test]
fn the_demo_says_how_to_start_the_service_when_nothing_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let output = Command::new(BINARY)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .args(["demo", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is it running? start it with `cargo run`"), "{stderr}");
    assert!(output.stdout.is_empty(), "no step ran");
}

#[test]
fn every_command_explains_itself_with_help() {
    let cases: [(&[&str], &[&str]); 4] = [
        (&["--help"], &["Usage: vondipayment [COMMAND]", "migrate", "check-ledger", "token", "demo", "VONDIPAYMENT_"]),
        (
            &["migrate", "--help"],
            &[
                "Usage: vondipayment migrate <COMMAND>",
                "Apply every pending migration",
                "Revert the newest",
                "applied or pending",
            ],
        ),
        (
            &["token", "--help"],
            &["Usage: vondipayment token", "--sub <ID>", "--role <ROLE>", "merchant", "--ttl <DURATION>", "[default: 24h]"],
        ),
        (&["demo", "--help"], &["Usage: vondipayment demo", "--url <URL>", "[default: http://localhost:30051]"]),
    ];
    for (args, expected) in cases {
        let output = Command::new(BINARY).env_clear().args(args).output().expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        for text in expected {
            assert!(stdout.contains(text), "{args:?}: {text:?} missing in:\n{stdout}");
        }
    }
}

async fn release_expired_releases_due_holds_for_cron(db: Db) {
    let app = crate::marketplace::spawn_marketplace(db).await;
    let admin = crate::marketplace::admin();
    let account = app.onboarded_account(&admin, "merchant-1").await;
    let payment_id = app.paid_escrowed_order(&account, "12.00").await;
    let run = || {
        Command::new(BINARY)
            .args(["release-expired", "--limit", "10"])
            .env("VONDIPAYMENT_DB_URL", &app.db_url)
            .env("VONDIPAYMENT_LOG_LEVEL", "error")
            .env("VONDIPAYMENT_DATA_DIR", &app.data_dir)
            .env("VONDIPAYMENT_BALANCE_PENDING_DAYS", "0")
            .output()
            .expect("runs")
    };
    let nothing = run();
    assert!(nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stdout).contains("released 0"));
    app.execute("UPDATE escrow_holds SET hold_until = 0").await;
    let released = run();
    assert!(released.status.success(), "{}", String::from_utf8_lossy(&released.stderr));
    assert!(String::from_utf8_lossy(&released.stdout).contains("released 1"));
    assert_eq!(app.hold_of(&payment_id).await.status, i32::from(api::proto::EscrowStatus::Released));
    app.assert_ledger_ok();
    app.stop().await;
}

async fn check_ledger_exits_1_when_an_invariant_is_broken(db: Db) {
    let app = spawn_app(db).await;
    app.paid_checkout("user-1", "10", "USD").await;
    app.assert_ledger_ok();

    // Money appearing out of nowhere: a balance that its postings do not explain.
    app.execute("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = 'platform_cash:USD'").await;
    let (ok, report) = app.check_ledger();
    assert!(!ok);
    assert!(report.contains("platform_cash:USD") && report.contains("differs from its postings"), "{report}");
    assert!(report.contains("balances in USD sum to 1"), "{report}");

    // A succeeded payment without its capture.
    app.execute("UPDATE ledger_accounts SET balance = balance - 1 WHERE id = 'platform_cash:USD'").await;
    app.execute("UPDATE journal_entries SET kind = 'refund'").await;
    let (ok, report) = app.check_ledger();
    assert!(!ok);
    assert!(report.contains("without a capture entry"), "{report}");
    app.stop().await;
}

async fn migrations_go_down_and_up_again(db: Db) {
    let url = fresh_database(db).await;
    let run = |args: &[&str]| {
        let output = Command::new(BINARY)
            .args(args)
            .env("VONDIPAYMENT_DB_URL", &url)
            .env("VONDIPAYMENT_LOG_LEVEL", "error")
            .output()
            .expect("runs");
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(run(&["migrate", "status"]).contains("pending"));
    run(&["migrate", "up"]);
    assert!(run(&["migrate", "status"]).contains("applied"));
    assert!(run(&["migrate", "down"]).contains("reverted"));
    assert!(run(&["migrate", "status"]).contains("pending"));
    run(&["migrate", "up"]);
    assert!(run(&["check-ledger"]).contains("ledger ok"));
    crate::helpers::drop_database(&url).await;
}

/// The README's run command on a fresh directory: starts on SQLite with no set-up,
/// prints how to get a token, serves, and stops cleanly on SIGTERM.
// Multi-threaded so the client's connection task keeps answering the server's
// shutdown handshake while this thread blocks on the child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_starts_with_no_configuration_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join("vondipayment-tests").join(uuid::Uuid::new_v4().simple().to_string());
    let process = crate::helpers::start_process(&dir, &[]);
    let port = process.port;
    assert!(dir.join("data/payments.db").exists(), "SQLite file under ./data");

    // A token minted by the CLI in the same directory is accepted by the service.
    let token = Command::new(BINARY)
        .current_dir(&dir)
        .env_clear()
        .args(["token", "--sub", "user-1", "--role", "user"])
        .output()
        .expect("token");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let channel = process.channel().await;
    let mut payments = api::proto::payment_service_client::PaymentServiceClient::new(channel);
    let created = payments
        .create_checkout_session(crate::helpers::authed(crate::helpers::checkout_request("user-1", "1.00", "USD"), &token))
        .await
        .expect("checkout with the CLI token")
        .into_inner();
    assert!(created.checkout_url.starts_with(&format!("http://localhost:{port}/payment/mock")));

    let (exit, log, stderr) = process.terminate();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    assert!(log.iter().any(|l| l.contains("shutdown signal received")), "{log:?}");
    assert!(stderr.contains("token --sub"), "tells how to get a token: {stderr}");
    assert!(!log.iter().any(|l| l.contains("autovacuum")), "SQLite has no autovacuum to warn of: {log:?}");
}

/// On PostgreSQL the service warns at start when autovacuum is off (nothing then
/// analyzes the tables, and plans made while they were small stay), and only then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_warns_at_start_when_postgresql_autovacuum_is_off() {
    let url = fresh_database(Db::Postgres).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("pool");
    let row = sqlx::query("SELECT current_setting('autovacuum') AS setting").fetch_one(&pool).await.expect("setting");
    let off = sqlx::Row::get::<String, _>(&row, "setting") == "off";
    pool.close().await;
    let dir = std::env::temp_dir().join("vondipayment-tests").join(uuid::Uuid::new_v4().simple().to_string());
    let process = crate::helpers::start_process(&dir, &[("DB_URL", url.as_str())]);
    let (exit, log, _) = process.terminate();
    assert!(exit.success(), "{exit:?}");
    let warned = log.iter().any(|l| l.contains("autovacuum is off") && l.contains("WARN"));
    assert_eq!(warned, off, "autovacuum off: {off}; log: {log:?}");
    crate::helpers::drop_database(&url).await;
}

#[test]
fn production_refuses_to_start_with_development_settings() {
    let output = Command::new(BINARY).env_clear().env("VONDIPAYMENT_ENV", "production").output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("VONDIPAYMENT_GATEWAYS_USE_MOCK") && stderr.contains("VONDIPAYMENT_AUTH_JWT_SECRET"), "{stderr}");
}
