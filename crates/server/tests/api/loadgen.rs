use std::process::Command;

use crate::helpers::{Db, JWT_SECRET, TestApp, spawn_app};
use crate::on_both_databases;

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

on_both_databases!(every_scenario_runs_its_count_without_errors_and_keeps_the_ledger);

/// Runs `loadgen` against `app` (off the runtime's threads: this process serves it);
/// returns its stdout after checking it succeeded.
async fn loadgen(app: &TestApp, args: &[&str]) -> String {
    let mut command = Command::new(LOADGEN);
    command
        .args(args)
        .args(["--url", &app.url(""), "--concurrency", "2", "--duration", "10m"])
        .env_clear()
        .env("VONDIPAYMENT_AUTH_JWT_SECRET", JWT_SECRET)
        .env("VONDIPAYMENT_DB_URL", &app.db_url);
    let output = tokio::task::spawn_blocking(move || command.output().expect("loadgen runs")).await.expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "loadgen {args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// The `key=value` result line of `scenario`.
fn result<'a>(stdout: &'a str, scenario: &str) -> &'a str {
    let prefix = format!("scenario={scenario} ");
    stdout.lines().find(|line| line.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} line in:\n{stdout}"))
}

/// Each scenario, bounded by a small count, does that many operations with no
/// error; the escrow scenario releases every hold it made; the ledger holds.
async fn every_scenario_runs_its_count_without_errors_and_keeps_the_ledger(db: Db) {
    let app = spawn_app(db).await;
    let checkout = loadgen(&app, &["checkout", "--count", "6"]).await;
    assert!(result(&checkout, "checkout").contains(" checkouts=6 "), "{checkout}");
    let transfer = loadgen(&app, &["transfer", "--count", "5", "--vendors", "2"]).await;
    assert!(result(&transfer, "transfer").contains(" transfers=5 "), "{transfer}");
    let read = loadgen(&app, &["get-payment", "--count", "7"]).await;
    assert!(result(&read, "get-payment").contains(" reads=7 "), "{read}");
    let escrow = loadgen(&app, &["escrow-release", "--count", "4"]).await;
    assert!(result(&escrow, "escrow-release").contains(" holds=4 left=0 released=4 "), "{escrow}");
    for stdout in [&checkout, &transfer, &read, &escrow] {
        assert!(stdout.contains(" errors=0") && !stdout.contains("first error"), "{stdout}");
    }
    // 6 checkouts, one funding checkout, 2 reads' checkouts, 4 escrowed ones.
    assert_eq!(app.ledger_balance("external:USD").await, -(6 * 1000 + 90_000_000 + 2 * 1000 + 4 * 1000));
    assert_eq!(app.ledger_balance("platform_escrow:USD").await, 0, "every hold was released");
    app.assert_ledger_ok();
    app.stop().await;
}

/// A load generator only loads this machine.
#[tokio::test]
async fn loadgen_refuses_a_service_elsewhere() {
    let output = Command::new(LOADGEN)
        .args(["checkout", "--url", "http://192.0.2.1:30051", "--count", "1"])
        .env_clear()
        .env("VONDIPAYMENT_AUTH_JWT_SECRET", JWT_SECRET)
        .output()
        .expect("loadgen runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("only http://127.0.0.1:PORT"), "{output:?}");
}
