//! Wiring: config → store → gateways → app → API, on two ports (API and metrics),
//! with graceful shutdown. `main.rs` is only the command line around this.

pub mod config;
mod connections;
pub mod demo;
pub mod fixtures;
pub mod reconcile;
mod scheduler;
pub mod secrets;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use app::marketplace_ports::ConnectGateway;
use app::ports::{GatewayLimits, PaymentGateway};
use app::{App, ConnectGateways, Gateways};
use config::{Config, Environment};
use gateways::{
    AllSecureClient, AllSecureConnectGateway, AllSecureGateway, AllSecureSettings, MockGateway, StripeClient,
    StripeConnectGateway, StripeGateway, StripeSettings,
};
use store::{SqlStore, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A started service: where it listens, and how to stop it.
pub struct Running {
    pub api_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    store: SqlStore,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, closes the pool.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.store.close().await;
    }

    /// Resolves when both servers have stopped (after a signal or `shutdown`).
    pub async fn wait(self) {
        let _ = self.task.await;
        self.store.close().await;
    }

    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

pub async fn connect_store(config: &Config) -> Result<SqlStore, BoxError> {
    let options = StoreOptions {
        url: config.db_url.expose().to_owned(),
        max_connections: config.db_max_connections,
        max_lifetime: config.db_connection_max_lifetime,
        acquire_timeout: std::time::Duration::from_secs(10),
        sqlite_synchronous: config.db_sqlite_synchronous,
    };
    SqlStore::connect(&options)
        .await
        .map_err(|e| format!("cannot open the database at {}: {e}", database_location(config.db_url.expose())).into())
}

/// Host and port (or file) of a database URL, without its credentials: for an
/// operator's error message.
pub(crate) fn database_location(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "an unreadable URL".to_owned() };
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    match scheme {
        "sqlite" => rest.split('?').next().unwrap_or(rest).to_owned(),
        _ => rest.split(['/', '?']).next().unwrap_or(rest).to_owned(),
    }
}

/// The application on its store and gateways, as the service and the CLI use it.
async fn assemble(config: &Config, store: SqlStore, public_url: &str) -> Result<App, BoxError> {
    let (gateways, connect) = build_gateways(config, public_url)?;
    let mock_names = gateways.iter().filter(|g| g.served_by_mock).map(|g| g.gateway.name().to_owned()).collect();
    let settings = app::Settings {
        balance_pending_days: config.balance_pending_days,
        instant_payout_fee_percent: config.payout_instant_fee_percent,
    };
    let gateways = gateways.into_iter().map(|g| g.gateway).collect();
    let events = app::EventDelivery {
        sender: Arc::new(gateways::event_sender::HttpEventSender::new(config.events_delivery_timeout)?),
        retry: domain::events::RetryPolicy {
            first_delay: config.events_retry_first_delay,
            give_up_after: config.events_retry_give_up_after,
            ..domain::events::RetryPolicy::DEFAULT
        },
        send_timeout: config.events_delivery_timeout,
        publisher: event_publisher(config),
    };
    let gateways = Gateways::new(config.gateways_default.clone(), gateways);
    Ok(App::new(Arc::new(store), gateways, connect, mock_names, settings, events))
}

/// The NATS JetStream publisher when `EVENTS_NATS_URL` is set (it connects on first use).
fn event_publisher(config: &Config) -> Option<Arc<dyn app::events_ports::EventPublisher>> {
    if config.events_nats_url.is_empty() {
        return None;
    }
    let settings = gateways::event_publisher::NatsSettings {
        url: config.events_nats_url.expose().to_owned(),
        subject_prefix: config.events_nats_subject_prefix.clone(),
        stream: config.events_nats_stream.clone(),
        timeout: config.events_delivery_timeout,
    };
    Some(Arc::new(gateways::event_publisher::NatsEventPublisher::new(settings)))
}

/// The application for a one-shot command (`release-expired`): no ports, no scheduler.
pub async fn build_app(config: &Config) -> Result<(App, SqlStore), BoxError> {
    let store = connect_store(config).await?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://localhost:{}", config.grpc_port));
    Ok((assemble(config, store.clone(), &public_url).await?, store))
}

/// Starts the service on the configured ports (0 = any free port).
pub async fn start(config: Config) -> Result<Running, BoxError> {
    gateways::install_crypto_provider();
    let store = connect_store(&config).await?;
    if config.env == Environment::Development {
        store::migrate_up(&store).await?;
    }
    let analyzed_here = !store.statistics_kept_fresh().await?;
    if analyzed_here {
        tracing::warn!(
            "PostgreSQL's autovacuum is off: the service analyzes each table once, when it first holds 1,000 rows; \
             run VACUUM ANALYZE regularly (docs/configuration.md)"
        );
    }
    let api_listener = TcpListener::bind((config.server_host.as_str(), config.grpc_port))
        .await
        .map_err(|e| format!("cannot bind API port {}: {e}", config.grpc_port))?;
    let metrics_listener = TcpListener::bind((config.server_host.as_str(), config.metrics_port))
        .await
        .map_err(|e| format!("cannot bind metrics port {}: {e}", config.metrics_port))?;
    let api_addr = api_listener.local_addr()?;
    let metrics_addr = metrics_listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://localhost:{}", api_addr.port()));

    let app = assemble(&config, store.clone(), &public_url).await?;
    if config.fixtures_enabled {
        fixtures::load(&app, &fixtures::Fixtures::read(&config.fixtures_path)?).await?;
    }
    let authenticator = api::Authenticator::new(
        secrets::verification_key(&config).await?,
        secrets::token_rules(&config),
        config.auth_skip_methods.clone(),
    );
    let pages = pages::router(app.clone(), authenticator.clone(), page_settings(&config, &public_url)?);
    let router = api::router(app.clone(), authenticator, config.write_timeout, pages)?;
    // The recorder exists once the metrics router does; descriptions go to it.
    let metrics = telemetry::metrics_router();
    api::observe::describe_metrics();
    app::metrics::register_all();

    let (stop, stopped) = watch::channel(false);
    let drain = config.shutdown_timeout;
    let limits = connections::Limits {
        read_timeout: config.read_timeout,
        idle_timeout: config.idle_timeout,
        keepalive_interval: config.keepalive_interval,
        max_connections: config.max_connections,
    };
    let jobs = scheduler::spawn(app, analyzed_here.then(|| store.clone()), &config, stopped.clone());
    let task = tokio::spawn(async move {
        let api = connections::serve(api_listener, router, limits, stopped.clone());
        let metrics = connections::serve(metrics_listener, metrics, limits, stopped.clone());
        let mut stopped = stopped;
        tokio::select! {
            ((), ()) = async { tokio::join!(api, metrics) } => {}
            // Graceful drain is bounded: past the shutdown timeout, in-flight
            // requests are dropped (their transactions roll back).
            () = async { let _ = stopped.wait_for(|s| *s).await; tokio::time::sleep(drain).await } => {
                tracing::warn!("shutdown timeout reached; dropping in-flight requests");
            }
        }
        // The scheduler finishes its current batch before the pool closes.
        jobs.join().await;
    });
    tracing::info!(%api_addr, %metrics_addr, public_url, "payment service listening");
    Ok(Running { api_addr, metrics_addr, stop, task, store })
}

/// The pages' settings: Secure cookies in production; "sign in as" only in
/// development, when the service checks tokens with its own HS256 secret.
fn page_settings(config: &Config, public_url: &str) -> Result<pages::Settings, BoxError> {
    let dev = config.env == Environment::Development && config.auth_enabled && secrets::verifies_public_keys(config).is_none();
    let dev_signer = if dev {
        let longest = chrono::Duration::from_std(config.auth_max_token_lifetime).unwrap_or(chrono::Duration::hours(1));
        Some(pages::DevSigner {
            secret: secrets::hs256_secret(config)?,
            issuer: config.auth_issuer.clone(),
            audience: config.auth_audience.clone(),
            ttl: longest.min(chrono::Duration::hours(1)),
        })
    } else {
        None
    };
    Ok(pages::Settings { public_url: public_url.to_owned(), secure_cookies: config.env == Environment::Production, dev_signer })
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// A configured gateway, and whether the mock's hosted page may complete its sessions.
struct Served {
    gateway: Arc<dyn PaymentGateway>,
    served_by_mock: bool,
}

/// The payment gateways, and the Connect gateways: Stripe's when Stripe is enabled,
/// else the mock's; AllSecure's for vendors of its countries (Serbia) when enabled.
fn build_gateways(config: &Config, public_url: &str) -> Result<(Vec<Served>, ConnectGateways), BoxError> {
    let limits = |g: &config::GatewayConfig| GatewayLimits {
        currencies: Some(g.supported_currencies.clone()),
        min_minor: g.min_amount,
        max_minor: g.max_amount,
    };
    let mut gateways = Vec::new();
    if config.gateways_use_mock {
        let mock_limits = GatewayLimits { currencies: None, min_minor: 1, max_minor: 99_999_999 };
        let mock = MockGateway::new("mock", mock_limits, config.mock_webhook_secret.expose(), public_url);
        gateways.push(Served { gateway: Arc::new(mock), served_by_mock: true });
    }
    let mut allsecure_vendors: Option<Arc<dyn ConnectGateway>> = None;
    if config.allsecure.enabled {
        let extras = &config.allsecure_extras;
        let client = Arc::new(AllSecureClient::new(AllSecureSettings {
            base_url: config.allsecure.base_url.clone(),
            api_key: config.allsecure.api_key.expose().to_owned(),
            username: extras.username.expose().to_owned(),
            password: extras.password.expose().to_owned(),
            hash_password: extras.password_hashed,
            shared_secret: extras.shared_secret.expose().to_owned(),
            signature_enabled: extras.signature_enabled,
            timeout: extras.timeout,
            max_retries: extras.max_retries,
        })?);
        let gateway = AllSecureGateway::new(client.clone(), limits(&config.allsecure), public_url);
        gateways.push(Served { gateway: Arc::new(gateway), served_by_mock: false });
        allsecure_vendors = Some(Arc::new(AllSecureConnectGateway::new(client, public_url)));
    }
    let mut connect: Arc<dyn ConnectGateway> = Arc::new(gateways::MockConnectGateway::new(public_url));
    if config.stripe.enabled {
        let client = Arc::new(StripeClient::new(StripeSettings {
            base_url: config.stripe.base_url.clone(),
            api_key: config.stripe.api_key.expose().to_owned(),
            api_version: config.stripe_extras.api_version.clone(),
            timeout: config.stripe_extras.timeout,
            max_retries: config.stripe_extras.max_retries,
        })?);
        let secrets = vec![
            config.stripe.webhook_secret.expose().to_owned(),
            config.stripe_extras.connect_webhook_secret.expose().to_owned(),
        ];
        gateways.push(Served {
            gateway: Arc::new(StripeGateway::new(client.clone(), limits(&config.stripe), secrets)),
            served_by_mock: false,
        });
        connect = Arc::new(StripeConnectGateway::new(client));
    }
    let connect = match allsecure_vendors {
        Some(vendors) => ConnectGateways::new(connect).with_local(config.allsecure_extras.vendor_countries.clone(), vendors),
        None => ConnectGateways::new(connect),
    };
    Ok((gateways, connect))
}

#[cfg(test)]
mod tests {
    use super::database_location;

    #[test]
    fn a_database_is_named_by_host_and_port_never_by_its_password() {
        assert_eq!(database_location("postgres://app:s3cret@db.internal:5433/payments?sslmode=require"), "db.internal:5433");
        assert_eq!(database_location("postgres://127.0.0.1:5432/postgres"), "127.0.0.1:5432");
        assert_eq!(database_location("sqlite://./data/payments.db?mode=rwc"), "./data/payments.db");
        assert!(!database_location("postgres://u:p%40ss@h:1/d").contains("p%40ss"));
    }
}
