//! `vondipayment`: serve (default), migrate, check-ledger, token.

use std::process::ExitCode;

use app::Role;
use clap::{Parser, Subcommand};
use server::config::Config;

#[derive(Parser)]
#[command(name = "vondipayment", about = "Payment service for marketplaces", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service and its scheduler (the default).
    Serve,
    /// Apply, revert or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Prove the ledger invariants; exit 1 on a violation.
    CheckLedger,
    /// Release escrow holds whose time is up (for cron); safe beside running replicas.
    ReleaseExpired {
        /// How many holds at most.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Mint a development JWT signed with the configured (or generated) secret.
    Token {
        #[arg(long)]
        sub: String,
        /// user, merchant, admin or service; repeat for several.
        #[arg(long = "role", default_value = "user")]
        roles: Vec<String>,
        /// Lifetime, like 1h or 30m.
        #[arg(long, default_value = "24h")]
        ttl: String,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    Up,
    /// Revert the newest applied migration.
    Down,
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init_logging(&config.log_level);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => migrate(config, action).await,
        Command::CheckLedger => return check_ledger(config).await,
        Command::ReleaseExpired { limit } => release_expired(config, limit).await,
        Command::Token { sub, roles, ttl } => token(&config, &sub, &roles, &ttl),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), server::BoxError> {
    let running = server::start(config).await?;
    let stopper = running.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received: draining");
        let _ = stopper.send(true);
    });
    running.wait().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn migrate(config: Config, action: MigrateAction) -> Result<(), server::BoxError> {
    let store = server::connect_store(&config).await?;
    match action {
        MigrateAction::Up => {
            store::migrate_up(&store).await?;
            println!("migrations applied");
        }
        MigrateAction::Down => match store::migrate_down(&store).await? {
            Some(version) => println!("reverted migration {version}"),
            None => println!("no migration to revert"),
        },
        MigrateAction::Status => {
            for migration in store::migrate_status(&store).await? {
                let state = if migration.applied { "applied" } else { "pending" };
                println!("{} {:<8} {}", migration.version, state, migration.description);
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn release_expired(config: Config, limit: i64) -> Result<(), server::BoxError> {
    if !(1..=100_000).contains(&limit) {
        return Err("--limit must be between 1 and 100000".into());
    }
    let (app, store) = server::build_app(&config).await?;
    let released = app.release_expired_escrows(limit).await?;
    store.close().await;
    println!("released {released} expired escrow hold(s)");
    Ok(())
}

async fn check_ledger(config: Config) -> ExitCode {
    let outcome = async {
        let store = server::connect_store(&config).await?;
        let violations = app::ports::PaymentStore::check_ledger(&store).await?;
        store.close().await;
        Ok::<_, server::BoxError>(violations)
    }
    .await;
    match outcome {
        Ok(violations) if violations.is_empty() => {
            println!("ledger ok: every entry balances, balances match their postings, nothing is negative");
            ExitCode::SUCCESS
        }
        Ok(violations) => {
            for violation in &violations {
                println!("violation: {violation}");
            }
            println!("ledger broken: {} violation(s)", violations.len());
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn token(config: &Config, sub: &str, roles: &[String], ttl: &str) -> Result<(), server::BoxError> {
    let roles = roles
        .iter()
        .map(|r| Role::parse(r).ok_or_else(|| format!("--role '{r}' is not one of user, merchant, admin, service")))
        .collect::<Result<Vec<_>, _>>()?;
    let ttl = humantime::parse_duration(ttl).map_err(|e| format!("--ttl: {e}"))?;
    let ttl = chrono::Duration::from_std(ttl).map_err(|e| format!("--ttl: {e}"))?;
    let secret = server::secrets::hs256_secret(config)?;
    println!("{}", api::mint_hs256(&secret, sub, &roles, ttl)?);
    Ok(())
}
