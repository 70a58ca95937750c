//! `vondipayment`: serve (default), migrate, check-ledger, reconcile, release-expired, token, demo.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use app::Role;
use clap::{Args, Parser, Subcommand};
use jsonwebtoken::{Algorithm, EncodingKey};
use server::config::Config;

#[derive(Parser)]
#[command(
    name = "vondipayment",
    version,
    about = "Payment service for marketplaces: gRPC and HTTP on one port, a double-entry ledger",
    long_about = "Payment service for marketplaces: gRPC and HTTP on one port, a double-entry ledger.\n\n\
        Without a command it runs the service. Every setting is a VONDIPAYMENT_* environment \
        variable (see docs/configuration.md); with none set it runs in development on \
        ./data/payments.db (SQLite) with the mock gateway.",
    after_help = "First payment: start the service with `cargo run`, then run `cargo run -q -- demo` in a second terminal."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service and its scheduler (the default).
    Serve,
    /// Apply, revert or list database migrations (on VONDIPAYMENT_DB_URL).
    #[command(long_about = "Apply, revert or list the database migrations embedded in the binary, on the \
            database of VONDIPAYMENT_DB_URL (default ./data/payments.db). In development the \
            service also applies them when it starts; in production run `migrate up` first.")]
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Prove the ledger invariants; exit 1 on a violation.
    CheckLedger,
    /// Compare the ledger with what the gateways report; exit 1 on a mismatch.
    #[command(long_about = "Compare what the ledger says with what each configured gateway reports \
            (Stripe's balance transactions, transfers and payouts; AllSecure's status of each \
            transaction; the mock's own records) over a window, store the run (the console \
            shows it), print a summary per gateway and every line that does not match. Exits 1 \
            when a line does not match, 2 when a gateway or the database cannot be read.")]
    Reconcile {
        /// Only this gateway (repeat for several); all configured ones by default.
        #[arg(long, value_name = "NAME")]
        gateway: Vec<String>,
        /// Records since: a duration back from now (24h, 7d) or an RFC 3339 time.
        #[arg(long, value_name = "WHEN", default_value = "24h")]
        since: String,
    },
    /// Release escrow holds whose time is up (for cron); safe beside running replicas.
    ReleaseExpired {
        /// How many holds at most.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Mint a JWT the service accepts, for development and tests.
    #[command(
        long_about = "Mint a JWT the service accepts, for development and tests.\n\n\
            By default it is HS256, signed with VONDIPAYMENT_AUTH_JWT_SECRET or, in development, \
            the secret generated in the data directory. When the service checks tokens with a \
            public key (VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE or VONDIPAYMENT_AUTH_JWKS_URL), give \
            the matching private key with --private-key. The token carries VONDIPAYMENT_AUTH_ISSUER \
            and VONDIPAYMENT_AUTH_AUDIENCE when they are set.",
        after_help = "Examples:\n  vondipayment token --sub user-1 --role user\n  \
            vondipayment token --sub backend --role service --ttl 1h --private-key jwt-private.pem --kid key-1"
    )]
    Token(TokenArgs),
    /// Pay a first checkout on a running service, step by step.
    #[command(long_about = "Walk through a first payment on a running service and print each step: mint a \
            token, create a checkout session over gRPC, pay it on the mock gateway's page as a \
            browser would, read the payment back (it must be SUCCEEDED), and check the ledger of \
            the configured database. Run it with the service's settings (the same directory, \
            or the same VONDIPAYMENT_* variables); it exits 1 when a step fails.")]
    Demo {
        /// Where the service listens (gRPC and HTTP).
        #[arg(long, value_name = "URL", default_value = "http://localhost:30051")]
        url: String,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest applied migration.
    Down,
    /// List every migration as applied or pending.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    // Built here rather than by `#[tokio::main]`: its size is a setting.
    match tokio::runtime::Builder::new_multi_thread().worker_threads(config.worker_threads).enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli, config)),
        Err(error) => {
            eprintln!("error: the async runtime did not start: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, config: Config) -> ExitCode {
    server::telemetry::init_logging(&config.log_level);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { action } => migrate(config, action).await,
        Command::CheckLedger => return check_ledger(config).await,
        Command::Reconcile { gateway, since } => return reconcile(config, &gateway, &since).await,
        Command::ReleaseExpired { limit } => release_expired(config, limit).await,
        Command::Token(args) => token(&config, &args),
        Command::Demo { url } => server::demo::run(&config, &url).await,
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
    let signal = shutdown_signal()?;
    let running = server::start(config).await?;
    let stopper = running.stopper();
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutdown signal received: draining");
        let _ = stopper.send(true);
    });
    running.wait().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT or SIGTERM, listened for from the call on (on Unix): made before the service
/// says it listens, so that a signal right after that drains it instead of killing it
/// (tokio installs a signal's handler when it is first asked for it).
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
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

async fn reconcile(config: Config, gateways: &[String], since: &str) -> ExitCode {
    let outcome = async {
        let since = server::reconcile::parse_since(since, chrono::Utc::now())?;
        let (app, store) = server::build_app(&config).await?;
        let mismatches = server::reconcile::run(&app, gateways, since).await;
        store.close().await;
        mismatches
    }
    .await;
    match outcome {
        Ok(0) => ExitCode::SUCCESS,
        Ok(mismatches) => {
            println!("reconciliation found {mismatches} line(s) that do not match");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

#[derive(Args)]
struct TokenArgs {
    /// The user id the token speaks for (its `sub`).
    #[arg(long, value_name = "ID")]
    sub: String,
    /// user, merchant, admin or service; repeat for several.
    #[arg(long = "role", value_name = "ROLE", default_value = "user")]
    roles: Vec<String>,
    /// Lifetime, like 1h or 30m; at most VONDIPAYMENT_AUTH_MAX_TOKEN_LIFETIME.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    ttl: String,
    /// PEM private key to sign with: RSA gives RS256, P-256 gives ES256.
    #[arg(long, value_name = "FILE")]
    private_key: Option<std::path::PathBuf>,
    /// The key's id in the service's JWKS (the token header's `kid`).
    #[arg(long)]
    kid: Option<String>,
}

fn token(config: &Config, args: &TokenArgs) -> Result<(), server::BoxError> {
    let roles = args
        .roles
        .iter()
        .map(|r| Role::parse(r).ok_or_else(|| format!("--role '{r}' is not one of user, merchant, admin, service")))
        .collect::<Result<Vec<_>, _>>()?;
    let ttl = humantime::parse_duration(&args.ttl).map_err(|e| format!("--ttl: {e}"))?;
    if ttl > config.auth_max_token_lifetime {
        return Err(format!(
            "--ttl {}: longer than VONDIPAYMENT_AUTH_MAX_TOKEN_LIFETIME ({}), the service would refuse the token",
            args.ttl,
            humantime::format_duration(config.auth_max_token_lifetime)
        )
        .into());
    }
    let ttl = chrono::Duration::from_std(ttl).map_err(|e| format!("--ttl: {e}"))?;
    let public_keys = server::secrets::verifies_public_keys(config);
    let (algorithm, key) = match (&args.private_key, public_keys) {
        (Some(path), _) => server::secrets::signing_key(path)?,
        (None, Some(variable)) => {
            return Err(format!(
                "the service checks tokens with a public key ({variable}), so it would refuse an HS256 token: \
                 give the matching private key with --private-key FILE (and --kid ID for a JWKS)"
            )
            .into());
        }
        (None, None) => (Algorithm::HS256, EncodingKey::from_secret(&server::secrets::hs256_secret(config)?)),
    };
    if args.private_key.is_some() && public_keys.is_none() {
        eprintln!("note: the service checks HS256 tokens with its secret; it will refuse this {algorithm:?} token");
    }
    let new = api::NewToken {
        subject: &args.sub,
        roles: &roles,
        ttl,
        issuer: config.auth_issuer.as_deref(),
        audience: config.auth_audience.as_deref(),
        key_id: args.kid.as_deref(),
    };
    println!("{}", api::mint(&new, algorithm, &key)?);
    Ok(())
}
