//! Configuration from `VONDIPAYMENT_*` variables (SPEC §7). Everything is parsed and
//! checked before anything starts; a wrong value names its variable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub const PREFIX: &str = "VONDIPAYMENT_";

/// A value that must never reach a log: Debug and Display print `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub enabled: bool,
    pub api_key: Secret,
    pub webhook_secret: Secret,
    pub base_url: String,
    pub supported_currencies: Vec<String>,
    pub min_amount: i64,
    pub max_amount: i64,
}

/// Stripe's settings beyond those every gateway has.
#[derive(Debug, Clone)]
pub struct StripeExtras {
    /// The Connect endpoint's signing secret, accepted beside the platform's.
    pub connect_webhook_secret: Secret,
    /// The pinned `Stripe-Version`: the shapes the adapter reads.
    pub api_version: String,
    /// Production refuses `sk_test_` keys unless this is true.
    pub allow_test_keys: bool,
    pub timeout: Duration,
    pub max_retries: u32,
}

#[derive(Debug, Clone)]
pub struct AllSecureExtras {
    /// Signs our requests (when `signature_enabled`) and always AllSecure's callbacks.
    pub shared_secret: Secret,
    pub username: Secret,
    pub password: Secret,
    /// Send the password as SHA-1 applied ten times, as the official PHP clients do.
    pub password_hashed: bool,
    pub public_integration_key: Secret,
    pub signature_enabled: bool,
    pub timeout: Duration,
    pub max_retries: u32,
    /// Vendors of these countries are onboarded and paid out through AllSecure.
    pub vendor_countries: Vec<String>,
}

/// The PostgreSQL pool's default size. The writes are batched (group commit), so a few
/// connections carry the load; a bigger pool hands each request the connection idle
/// longest, each with its own plans to warm, and on 2 cores 20 connections left
/// transfers 15-20 % slower once a burst had opened all of them (issue 11).
const DB_MAX_CONNECTIONS: u32 = 8;

#[derive(Debug, Clone)]
pub struct Config {
    pub service_name: String,
    pub env: Environment,
    pub log_level: String,
    pub db_url: Secret,
    pub db_max_connections: u32,
    pub db_sqlite_synchronous: store::SqliteSynchronous,
    pub db_max_idle_connections: u32,
    pub db_connection_max_lifetime: Duration,
    pub db_migration_path: String,
    /// Where both ports listen: this machine only in development, where the mock
    /// page marks payments paid without a login.
    pub server_host: String,
    pub grpc_port: u16,
    pub metrics_port: u16,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
    /// HTTP/2 pings: a peer that does not answer one within this long is dropped.
    pub keepalive_interval: Duration,
    /// Open connections per port; past it, new ones wait to be accepted.
    pub max_connections: usize,
    /// The async runtime's worker threads (`default_worker_threads`).
    pub worker_threads: usize,
    pub shutdown_timeout: Duration,
    /// Where browsers reach this service (mock pages); default `http://localhost:{grpc_port}`.
    pub public_url: Option<String>,
    pub gateways_default: String,
    pub gateways_use_mock: bool,
    pub mock_webhook_secret: Secret,
    pub stripe: GatewayConfig,
    pub stripe_extras: StripeExtras,
    pub allsecure: GatewayConfig,
    pub allsecure_extras: AllSecureExtras,
    pub auth_enabled: bool,
    pub auth_test_mode: bool,
    pub auth_grpc_address: String,
    pub auth_service_name: String,
    pub auth_service_api_key: Secret,
    pub auth_skip_methods: Vec<String>,
    pub auth_jwt_secret: Secret,
    pub auth_jwt_public_key_file: Option<PathBuf>,
    /// Clock skew allowed on a token's `exp`, `nbf` and `iat`.
    pub auth_leeway: Duration,
    /// The longest a token may be valid (`exp - iat`).
    pub auth_max_token_lifetime: Duration,
    /// When set, tokens must carry this `iss`.
    pub auth_issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    pub auth_audience: Option<String>,
    /// An identity provider's key set (URL, `file://` or path), instead of a secret or key file.
    pub auth_jwks_url: Option<String>,
    pub auth_jwks_refresh_interval: Duration,
    /// A token with an unknown `kid` reads the set again at most this often.
    pub auth_jwks_min_refetch_interval: Duration,
    /// Demo data loaded at start (development, on the mock gateway alone).
    pub fixtures_enabled: bool,
    pub fixtures_path: PathBuf,
    pub escrow_release_interval: Duration,
    pub balance_pending_days: u32,
    /// How often pending funds are matured and scheduled snapshots recorded.
    pub balance_refresh_interval: Duration,
    /// Instant payout fee in percent ("1" = 1 %).
    pub payout_instant_fee_percent: rust_decimal::Decimal,
    /// How long the mock gateway leaves a payout in each state before the next.
    pub mock_payout_step: Duration,
    /// How often (and after how long) transfers and refunds left pending are re-sent.
    pub recovery_interval: Duration,
    /// How often every gateway is reconciled with the ledger; `None` (the default) never.
    pub reconcile_interval: Option<Duration>,
    /// Where the SQLite default and the generated development secret live.
    pub data_dir: PathBuf,
    /// How often the outbox is looked at for events due to the platform's endpoints.
    pub events_delivery_interval: Duration,
    /// Longest wait for an endpoint's answer.
    pub events_delivery_timeout: Duration,
    /// The first retry's delay (it doubles up to an hour) and how long a failing
    /// delivery is retried before it is dead-lettered.
    pub events_retry_first_delay: Duration,
    pub events_retry_give_up_after: Duration,
    /// NATS server every event is also published to (JetStream); empty: none.
    /// May carry credentials, hence a secret.
    pub events_nats_url: Secret,
    /// Subjects are `{prefix}.{event type}`.
    pub events_nats_subject_prefix: String,
    /// The JetStream stream created at start when missing, on `{prefix}.>`.
    pub events_nats_stream: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<String>);

/// A NATS subject prefix (dots between tokens when `dotted`) or stream name: no
/// wildcard, space or empty token.
fn nats_token(text: &str, dotted: bool) -> bool {
    let token = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if dotted { text.split('.').all(token) } else { token(text) }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:\n  - {}", self.0.join("\n  - "))
    }
}

impl std::error::Error for ConfigError {}

/// Reads variables by their name without the prefix and remembers every problem.
struct Reader<'a> {
    vars: &'a BTreeMap<String, String>,
    errors: Vec<String>,
}

impl<'a> Reader<'a> {
    fn raw(&self, name: &str) -> Option<&'a str> {
        self.vars.get(&format!("{PREFIX}{name}")).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    fn fail(&mut self, name: &str, message: impl fmt::Display) {
        self.errors.push(format!("{PREFIX}{name}: {message}"));
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).trim().to_owned()
    }

    fn secret(&self, name: &str) -> Secret {
        Secret(self.raw(name).unwrap_or_default().trim().to_owned())
    }

    fn parse<T: std::str::FromStr>(&mut self, name: &str, default: T, what: &str) -> T {
        match self.raw(name) {
            None => default,
            Some(text) => text.trim().parse().unwrap_or_else(|_| {
                self.fail(name, format!("'{text}' is not {what}"));
                default
            }),
        }
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.fail(name, format!("'{v}' is not a boolean (true/false)"));
                default
            }
        }
    }

    fn duration(&mut self, name: &str, default: Duration) -> Duration {
        match self.raw(name) {
            None => default,
            Some(text) => humantime::parse_duration(text.trim()).unwrap_or_else(|e| {
                self.fail(name, format!("'{text}' is not a duration like 30s or 1h ({e})"));
                default
            }),
        }
    }

    fn port(&mut self, name: &str, default: u16) -> u16 {
        self.parse(name, default, "a port number (0-65535)")
    }

    fn list(&self, name: &str, default: &str) -> Vec<String> {
        self.string(name, default).split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
    }

    fn gateway(&mut self, prefix: &str, enabled: bool, currencies: &str, min: i64, max: i64, base_url: &str) -> GatewayConfig {
        let config = GatewayConfig {
            enabled: self.bool(&format!("{prefix}_ENABLED"), enabled),
            api_key: self.secret(&format!("{prefix}_API_KEY")),
            webhook_secret: self.secret(&format!("{prefix}_WEBHOOK_SECRET")),
            base_url: self.string(&format!("{prefix}_BASE_URL"), base_url),
            supported_currencies: self.list(&format!("{prefix}_SUPPORTED_CURRENCIES"), currencies),
            min_amount: self.parse(&format!("{prefix}_MIN_AMOUNT"), min, "an amount in minor units"),
            max_amount: self.parse(&format!("{prefix}_MAX_AMOUNT"), max, "an amount in minor units"),
        };
        if config.min_amount < 1 || config.min_amount > config.max_amount {
            self.fail(&format!("{prefix}_MIN_AMOUNT"), "must be ≥ 1 and ≤ the gateway's MAX_AMOUNT");
        }
        for code in &config.supported_currencies {
            if let Err(e) = domain::Currency::parse("currency", code) {
                self.fail(&format!("{prefix}_SUPPORTED_CURRENCIES"), e);
            }
        }
        config
    }
}

/// Development secret for the mock gateway's webhooks; production refuses the mock.
const MOCK_WEBHOOK_SECRET_DEVELOPMENT: &str = "whsec_mock_development";

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().filter(|(k, _)| k.starts_with(PREFIX)).collect())
    }

    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader { vars, errors: Vec::new() };
        let env = match r.string("ENV", "development").as_str() {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => {
                r.fail("ENV", format!("'{other}' is not development or production"));
                Environment::Development
            }
        };
        let development = env == Environment::Development;
        let data_dir = PathBuf::from(r.string("DATA_DIR", "./data"));
        let log_level = r.string("LOG_LEVEL", "info");
        if !["trace", "debug", "info", "warn", "error"].contains(&log_level.as_str()) {
            r.fail("LOG_LEVEL", format!("'{log_level}' is not one of debug, info, warn, error"));
        }
        let db_url = database_url(&mut r, &data_dir);
        let grpc_port = r.port("SERVER_GRPC_PORT", 30051);
        let metrics_port = r.port("SERVER_METRICS_PORT", 39090);
        if grpc_port == metrics_port && grpc_port != 0 {
            r.fail("SERVER_METRICS_PORT", "must differ from VONDIPAYMENT_SERVER_GRPC_PORT");
        }
        let stripe = r.gateway("GATEWAYS_STRIPE", false, "USD,EUR,RUB", 50, 99_999_999, "https://api.stripe.com");
        let allsecure =
            r.gateway("GATEWAYS_ALLSECURE", false, "RSD,EUR", 100, 99_999_999, "https://asxgw.paymentsandbox.cloud/api/v3");
        let gateways_use_mock = r.bool("GATEWAYS_USE_MOCK", development);
        let stripe_extras = StripeExtras {
            connect_webhook_secret: r.secret("GATEWAYS_STRIPE_CONNECT_WEBHOOK_SECRET"),
            api_version: r.string("GATEWAYS_STRIPE_API_VERSION", "2023-08-16"),
            allow_test_keys: r.bool("GATEWAYS_STRIPE_ALLOW_TEST_KEYS", false),
            timeout: r.duration("GATEWAYS_STRIPE_TIMEOUT", Duration::from_secs(30)),
            max_retries: r.parse("GATEWAYS_STRIPE_MAX_RETRIES", 2, "a number of retries (0 to 10)"),
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let worker_threads =
            r.parse("SERVER_WORKER_THREADS", default_worker_threads(db_url.expose(), cores), "a positive number of threads");
        let config = Config {
            service_name: r.string("SERVICE_NAME", "payment-service"),
            env,
            log_level,
            db_url,
            db_max_connections: r.parse("DB_MAX_CONNECTIONS", DB_MAX_CONNECTIONS, "a positive number"),
            db_sqlite_synchronous: r.parse("DB_SQLITE_SYNCHRONOUS", Default::default(), "full or normal"),
            db_max_idle_connections: r.parse("DB_MAX_IDLE_CONNECTIONS", 10, "a number"),
            db_connection_max_lifetime: r.duration("DB_CONNECTION_MAX_LIFETIME", Duration::from_secs(3600)),
            db_migration_path: r.string("DB_MIGRATION_PATH", "migrations"),
            server_host: r.string("SERVER_HOST", if development { "127.0.0.1" } else { "0.0.0.0" }),
            grpc_port,
            metrics_port,
            read_timeout: r.duration("SERVER_READ_TIMEOUT", Duration::from_secs(30)),
            write_timeout: r.duration("SERVER_WRITE_TIMEOUT", Duration::from_secs(30)),
            idle_timeout: r.duration("SERVER_IDLE_TIMEOUT", Duration::from_secs(120)),
            keepalive_interval: r.duration("SERVER_KEEPALIVE_INTERVAL", Duration::from_secs(30)),
            max_connections: r.parse("SERVER_MAX_CONNECTIONS", 4096, "a positive number of connections"),
            worker_threads,
            shutdown_timeout: r.duration("SERVER_SHUTDOWN_TIMEOUT", Duration::from_secs(30)),
            public_url: r.raw("SERVER_PUBLIC_URL").map(|u| u.trim().trim_end_matches('/').to_owned()),
            gateways_default: r.string("GATEWAYS_DEFAULT", default_gateway(gateways_use_mock, &stripe, &allsecure)),
            gateways_use_mock,
            mock_webhook_secret: match r.secret("GATEWAYS_MOCK_WEBHOOK_SECRET") {
                secret if secret.is_empty() && development => Secret(MOCK_WEBHOOK_SECRET_DEVELOPMENT.into()),
                secret => secret,
            },
            allsecure_extras: AllSecureExtras {
                shared_secret: r.secret("GATEWAYS_ALLSECURE_SHARED_SECRET"),
                username: r.secret("GATEWAYS_ALLSECURE_USERNAME"),
                password: r.secret("GATEWAYS_ALLSECURE_PASSWORD"),
                password_hashed: r.bool("GATEWAYS_ALLSECURE_PASSWORD_HASHED", false),
                public_integration_key: r.secret("GATEWAYS_ALLSECURE_PUBLIC_INTEGRATION_KEY"),
                signature_enabled: r.bool("GATEWAYS_ALLSECURE_SIGNATURE_ENABLED", true),
                timeout: r.duration("GATEWAYS_ALLSECURE_TIMEOUT", Duration::from_secs(30)),
                max_retries: r.parse("GATEWAYS_ALLSECURE_MAX_RETRIES", 2, "a number of retries (0 to 10)"),
                vendor_countries: r.list("GATEWAYS_ALLSECURE_VENDOR_COUNTRIES", "RS"),
            },
            stripe,
            stripe_extras,
            allsecure,
            auth_enabled: r.bool("AUTH_ENABLED", true),
            auth_test_mode: r.bool("AUTH_TEST_MODE", false),
            auth_grpc_address: r.string("AUTH_GRPC_ADDRESS", ""),
            auth_service_name: r.string("AUTH_SERVICE_NAME", "payment-service"),
            auth_service_api_key: r.secret("AUTH_SERVICE_API_KEY"),
            auth_skip_methods: r.list("AUTH_SKIP_METHODS", "/payment.v1.PaymentService/HealthCheck"),
            auth_jwt_secret: r.secret("AUTH_JWT_SECRET"),
            auth_jwt_public_key_file: r.raw("AUTH_JWT_PUBLIC_KEY_FILE").map(PathBuf::from),
            auth_leeway: r.duration("AUTH_LEEWAY", Duration::from_secs(30)),
            auth_max_token_lifetime: r.duration("AUTH_MAX_TOKEN_LIFETIME", Duration::from_secs(24 * 3600)),
            auth_issuer: r.raw("AUTH_ISSUER").map(|v| v.trim().to_owned()),
            auth_audience: r.raw("AUTH_AUDIENCE").map(|v| v.trim().to_owned()),
            auth_jwks_url: r.raw("AUTH_JWKS_URL").map(|v| v.trim().to_owned()),
            auth_jwks_refresh_interval: r.duration("AUTH_JWKS_REFRESH_INTERVAL", Duration::from_secs(600)),
            auth_jwks_min_refetch_interval: r.duration("AUTH_JWKS_MIN_REFETCH_INTERVAL", Duration::from_secs(30)),
            fixtures_enabled: r.bool("FIXTURES_ENABLED", false),
            fixtures_path: PathBuf::from(r.string("FIXTURES_PATH", "fixtures/demo.json")),
            escrow_release_interval: r.duration("ESCROW_RELEASE_INTERVAL", Duration::from_secs(3600)),
            balance_pending_days: r.parse("BALANCE_PENDING_DAYS", 2, "a number of days (0 or more)"),
            balance_refresh_interval: r.duration("BALANCE_REFRESH_INTERVAL", Duration::from_secs(3600)),
            payout_instant_fee_percent: r.parse(
                "PAYOUT_INSTANT_FEE_PERCENT",
                rust_decimal::Decimal::ONE,
                "a percentage like 1 or 1.5",
            ),
            mock_payout_step: r.duration("GATEWAYS_MOCK_PAYOUT_STEP", Duration::from_secs(10)),
            recovery_interval: r.duration("RECOVERY_INTERVAL", Duration::from_secs(60)),
            reconcile_interval: r
                .raw("RECONCILE_INTERVAL")
                .filter(|v| v.trim() != "off")
                .map(|_| r.duration("RECONCILE_INTERVAL", Duration::from_secs(86_400))),
            data_dir,
            events_delivery_interval: r.duration("EVENTS_DELIVERY_INTERVAL", Duration::from_secs(1)),
            events_delivery_timeout: r.duration("EVENTS_DELIVERY_TIMEOUT", Duration::from_secs(10)),
            events_retry_first_delay: r.duration("EVENTS_RETRY_FIRST_DELAY", Duration::from_secs(30)),
            events_retry_give_up_after: r.duration("EVENTS_RETRY_GIVE_UP_AFTER", Duration::from_secs(24 * 3600)),
            events_nats_url: r.secret("EVENTS_NATS_URL"),
            events_nats_subject_prefix: r.string("EVENTS_NATS_SUBJECT_PREFIX", "vondi.events"),
            events_nats_stream: r.string("EVENTS_NATS_STREAM", "VONDI_EVENTS"),
        };
        if config.db_max_connections == 0 {
            r.fail("DB_MAX_CONNECTIONS", "must be at least 1");
        }
        if config.max_connections == 0 {
            r.fail("SERVER_MAX_CONNECTIONS", "must be at least 1");
        }
        if config.worker_threads == 0 {
            r.fail("SERVER_WORKER_THREADS", "must be at least 1");
        }
        for (name, value) in [
            ("SERVER_READ_TIMEOUT", config.read_timeout),
            ("SERVER_IDLE_TIMEOUT", config.idle_timeout),
            ("SERVER_KEEPALIVE_INTERVAL", config.keepalive_interval),
        ] {
            if value < Duration::from_millis(100) {
                r.fail(name, "must be at least 100ms");
            }
        }
        if config.escrow_release_interval < Duration::from_millis(100) {
            r.fail("ESCROW_RELEASE_INTERVAL", "must be at least 100ms");
        }
        if config.balance_refresh_interval < Duration::from_millis(100) {
            r.fail("BALANCE_REFRESH_INTERVAL", "must be at least 100ms");
        }
        if config.recovery_interval < Duration::from_millis(100) {
            r.fail("RECOVERY_INTERVAL", "must be at least 100ms");
        }
        if config.reconcile_interval.is_some_and(|every| every < Duration::from_secs(1)) {
            r.fail("RECONCILE_INTERVAL", "must be at least 1s, or off");
        }
        if !nats_token(&config.events_nats_subject_prefix, true) {
            r.fail("EVENTS_NATS_SUBJECT_PREFIX", "must be dot-separated letters, digits, '-' or '_', like vondi.events");
        }
        if !nats_token(&config.events_nats_stream, false) {
            r.fail("EVENTS_NATS_STREAM", "must be letters, digits, '-' or '_', like VONDI_EVENTS");
        }
        if config.events_delivery_interval < Duration::from_millis(10) {
            r.fail("EVENTS_DELIVERY_INTERVAL", "must be at least 10ms");
        }
        if config.events_delivery_timeout < Duration::from_millis(100) {
            r.fail("EVENTS_DELIVERY_TIMEOUT", "must be at least 100ms");
        }
        if config.events_retry_first_delay < Duration::from_millis(10) {
            r.fail("EVENTS_RETRY_FIRST_DELAY", "must be at least 10ms");
        }
        if config.mock_payout_step < Duration::from_millis(10) {
            r.fail("GATEWAYS_MOCK_PAYOUT_STEP", "must be at least 10ms");
        }
        if config.payout_instant_fee_percent.is_sign_negative()
            || config.payout_instant_fee_percent > rust_decimal::Decimal::ONE_HUNDRED
        {
            r.fail("PAYOUT_INSTANT_FEE_PERCENT", "must be between 0 and 100");
        }
        if let Some(url) = &config.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            r.fail("SERVER_PUBLIC_URL", "must start with http:// or https://");
        }
        if let Some(path) = &config.auth_jwt_public_key_file
            && !path.is_file()
        {
            r.fail("AUTH_JWT_PUBLIC_KEY_FILE", format!("{} is not a readable file", path.display()));
        }
        config.check_tokens(&mut r);
        for method in &config.auth_skip_methods {
            if !method.starts_with('/') {
                r.fail(
                    "AUTH_SKIP_METHODS",
                    format!("'{method}' is not a full method name like /payment.v1.PaymentService/HealthCheck"),
                );
            }
        }
        config.check_gateways(&mut r);
        if config.fixtures_enabled {
            config.check_fixtures(&mut r);
        }
        if env == Environment::Production {
            config.check_production(&mut r);
        }
        if r.errors.is_empty() { Ok(config) } else { Err(ConfigError(r.errors)) }
    }

    fn check_tokens(&self, r: &mut Reader<'_>) {
        if self.auth_leeway > Duration::from_secs(300) {
            r.fail("AUTH_LEEWAY", "must be at most 5m (clock skew, not a grace period)");
        }
        if self.auth_max_token_lifetime < Duration::from_secs(60) {
            r.fail("AUTH_MAX_TOKEN_LIFETIME", "must be at least 1m");
        }
        if self.auth_jwks_refresh_interval < Duration::from_secs(1) {
            r.fail("AUTH_JWKS_REFRESH_INTERVAL", "must be at least 1s");
        }
        let Some(url) = &self.auth_jwks_url else { return };
        if self.auth_jwt_public_key_file.is_some() {
            r.fail("AUTH_JWKS_URL", "set either it or VONDIPAYMENT_AUTH_JWT_PUBLIC_KEY_FILE, not both");
        }
        match api::JwksLocation::parse(url) {
            Err(message) => r.fail("AUTH_JWKS_URL", message),
            Ok(api::JwksLocation::File(path)) if !path.is_file() => {
                r.fail("AUTH_JWKS_URL", format!("{} is not a readable file", path.display()));
            }
            Ok(api::JwksLocation::Url(url)) if self.env == Environment::Production && !secure_url(&url) => {
                r.fail("AUTH_JWKS_URL", "production needs https:// (plain http only to this machine)");
            }
            Ok(_) => {}
        }
    }

    fn check_gateways(&self, r: &mut Reader<'_>) {
        let names = self.gateway_names();
        if !names.contains(&self.gateways_default.as_str()) {
            r.fail(
                "GATEWAYS_DEFAULT",
                format!("'{}' is not an enabled gateway (enabled: {})", self.gateways_default, names.join(", ")),
            );
        }
        if self.stripe.enabled {
            self.check_stripe(r);
        }
        if self.allsecure.enabled {
            self.check_allsecure(r);
        }
    }

    /// Demo vendors and payments are made on the mock: a real gateway would onboard
    /// real accounts and take real money for them.
    fn check_fixtures(&self, r: &mut Reader<'_>) {
        if self.env == Environment::Production {
            r.fail("FIXTURES_ENABLED", "production refuses demo data");
        }
        if !self.gateways_use_mock || self.stripe.enabled || self.allsecure.enabled {
            r.fail(
                "FIXTURES_ENABLED",
                "demo data is made on the mock gateway alone: set VONDIPAYMENT_GATEWAYS_USE_MOCK=true and leave Stripe and AllSecure off",
            );
        }
        if !self.fixtures_path.is_file() {
            r.fail("FIXTURES_PATH", format!("{} is not a readable file", self.fixtures_path.display()));
        }
    }

    fn check_allsecure(&self, r: &mut Reader<'_>) {
        let extras = &self.allsecure_extras;
        for (name, value) in [
            ("GATEWAYS_ALLSECURE_API_KEY", &self.allsecure.api_key),
            ("GATEWAYS_ALLSECURE_USERNAME", &extras.username),
            ("GATEWAYS_ALLSECURE_PASSWORD", &extras.password),
            ("GATEWAYS_ALLSECURE_SHARED_SECRET", &extras.shared_secret),
        ] {
            if value.is_empty() {
                r.fail(name, "is required when AllSecure is enabled (the shared secret also verifies its callbacks)");
            }
        }
        if !self.allsecure.base_url.starts_with("https://") && !self.allsecure.base_url.starts_with("http://") {
            r.fail("GATEWAYS_ALLSECURE_BASE_URL", "must start with https:// (or http:// for a local stand-in)");
        }
        if extras.max_retries > 10 {
            r.fail("GATEWAYS_ALLSECURE_MAX_RETRIES", "must be at most 10");
        }
        if extras.timeout < Duration::from_millis(100) {
            r.fail("GATEWAYS_ALLSECURE_TIMEOUT", "must be at least 100ms");
        }
    }

    fn check_stripe(&self, r: &mut Reader<'_>) {
        let key = self.stripe.api_key.expose();
        if key.is_empty() {
            r.fail("GATEWAYS_STRIPE_API_KEY", "is required when Stripe is enabled (a secret key sk_… or restricted key rk_…)");
        } else if !(key.starts_with("sk_") || key.starts_with("rk_")) {
            r.fail("GATEWAYS_STRIPE_API_KEY", "must be a Stripe secret key (sk_…) or restricted key (rk_…)");
        }
        if self.stripe.webhook_secret.is_empty() {
            r.fail(
                "GATEWAYS_STRIPE_WEBHOOK_SECRET",
                "is required when Stripe is enabled: the endpoint's signing secret (whsec_…), or events cannot be trusted",
            );
        }
        if !self.stripe.base_url.starts_with("https://") && !self.stripe.base_url.starts_with("http://") {
            r.fail("GATEWAYS_STRIPE_BASE_URL", "must start with https:// (or http:// for a local stand-in)");
        }
        if self.stripe_extras.max_retries > 10 {
            r.fail("GATEWAYS_STRIPE_MAX_RETRIES", "must be at most 10");
        }
        if self.stripe_extras.timeout < Duration::from_millis(100) {
            r.fail("GATEWAYS_STRIPE_TIMEOUT", "must be at least 100ms");
        }
    }

    fn check_production(&self, r: &mut Reader<'_>) {
        if self.gateways_use_mock || self.gateways_default == "mock" {
            r.fail("GATEWAYS_USE_MOCK", "production refuses the mock gateway");
        }
        if !self.auth_enabled {
            r.fail("AUTH_ENABLED", "production refuses disabled auth");
        }
        if self.auth_test_mode {
            r.fail("AUTH_TEST_MODE", "production refuses test mode");
        }
        if self.auth_jwt_secret.is_empty() && self.auth_jwt_public_key_file.is_none() && self.auth_jwks_url.is_none() {
            r.fail("AUTH_JWT_SECRET", "production needs a JWT secret (or AUTH_JWT_PUBLIC_KEY_FILE or AUTH_JWKS_URL)");
        }
        for (name, gateway) in [("GATEWAYS_STRIPE_BASE_URL", &self.stripe), ("GATEWAYS_ALLSECURE_BASE_URL", &self.allsecure)] {
            if gateway.enabled && !secure_url(&gateway.base_url) {
                r.fail(name, "production needs https:// (plain http only to this machine)");
            }
        }
        if self.stripe.enabled && self.stripe.api_key.expose().contains("_test_") && !self.stripe_extras.allow_test_keys {
            r.fail(
                "GATEWAYS_STRIPE_API_KEY",
                "production refuses a test key (sk_test_…); set VONDIPAYMENT_GATEWAYS_STRIPE_ALLOW_TEST_KEYS=true to allow it",
            );
        }
    }

    /// Gateways this process serves: the mock (development), Stripe and AllSecure.
    pub fn gateway_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.gateways_use_mock {
            names.push("mock");
        }
        if self.stripe.enabled {
            names.push("stripe");
        }
        if self.allsecure.enabled {
            names.push("allsecure");
        }
        names
    }

    pub fn is_sqlite(&self) -> bool {
        self.db_url.expose().starts_with("sqlite:")
    }
}

/// https, or plain http only to this machine (a local stand-in): credentials and
/// keys travel over it.
fn secure_url(url: &str) -> bool {
    url.starts_with("https://") || ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|p| url.starts_with(p))
}

/// The mock in development; otherwise the first enabled real gateway.
fn default_gateway(use_mock: bool, stripe: &GatewayConfig, allsecure: &GatewayConfig) -> &'static str {
    match (use_mock, stripe.enabled, allsecure.enabled) {
        (true, _, _) => "mock",
        (false, true, _) => "stripe",
        (false, false, true) => "allsecure",
        (false, false, false) => "mock",
    }
}

/// One worker thread per core, or half of them (at least one) when PostgreSQL runs on
/// this machine: it then needs the cores as much as the service, and two workers
/// waking each other across two busy cores cost more than they gave (issue 11: on 2
/// cores shared with PostgreSQL, GetPayment 5-10 % more reads with one, transfers 4 %
/// more, escrow releases 7 % fewer). SQLite's work is the service's own: every core.
fn default_worker_threads(db_url: &str, cores: usize) -> usize {
    if database_on_this_host(db_url) { (cores / 2).max(1) } else { cores }
}

/// A PostgreSQL URL naming a loopback host or a Unix socket.
fn database_on_this_host(db_url: &str) -> bool {
    if store::Dialect::of_url(db_url) != Some(store::Dialect::Postgres) {
        return false;
    }
    let Ok(options) = db_url.parse::<sqlx::postgres::PgConnectOptions>() else { return false };
    let host = options.get_host().trim_start_matches('[').trim_end_matches(']');
    options.get_socket().is_some()
        || host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `DB_URL` wins; else `DB_HOST` builds a PostgreSQL URL; else an SQLite file.
fn database_url(r: &mut Reader<'_>, data_dir: &std::path::Path) -> Secret {
    if let Some(url) = r.raw("DB_URL").map(str::trim).map(str::to_owned) {
        if store::Dialect::of_url(&url).is_none() {
            r.fail("DB_URL", "must start with postgres:// or sqlite:");
        }
        return Secret(url);
    }
    let Some(host) = r.raw("DB_HOST").map(str::to_owned) else {
        return Secret(format!("sqlite://{}", data_dir.join("payments.db").display()));
    };
    let port = r.port("DB_PORT", 5432);
    let name = r.string("DB_NAME", "payment_db");
    let user = r.string("DB_USER", "payment_user");
    let password = r.secret("DB_PASSWORD");
    let ssl_mode = r.string("DB_SSL_MODE", "disable");
    if !["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(&ssl_mode.as_str()) {
        r.fail("DB_SSL_MODE", format!("'{ssl_mode}' is not a PostgreSQL sslmode"));
    }
    // Percent-encoded: a password like `p@ss/w#rd` must not change the URL's host or path.
    let encode = |text: &str| percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
    let credentials =
        if password.is_empty() { encode(&user) } else { format!("{}:{}", encode(&user), encode(password.expose())) };
    Secret(format!("postgres://{credentials}@{host}:{port}/{name}?sslmode={ssl_mode}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(&pairs.iter().map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned())).collect())
    }

    fn errors(pairs: &[(&str, &str)]) -> String {
        config(pairs).map(|_| String::new()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn the_defaults_are_development_on_sqlite_with_the_mock() {
        let config = config(&[]).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(config.env, Environment::Development);
        assert_eq!(config.db_url.expose(), "sqlite://./data/payments.db");
        assert_eq!((config.grpc_port, config.metrics_port), (30051, 39090));
        assert_eq!(config.gateways_default, "mock");
        assert_eq!(config.escrow_release_interval, Duration::from_secs(3600));
        assert_eq!(config.auth_skip_methods, vec!["/payment.v1.PaymentService/HealthCheck"]);
        assert_eq!(config.server_host, "127.0.0.1", "development listens on this machine only");
        assert_eq!(config.db_sqlite_synchronous, store::SqliteSynchronous::Full, "every commit is synced unless asked");
    }

    /// PostgreSQL on this machine leaves it half the cores; elsewhere, or SQLite (the
    /// service's own work), every core. A setting wins.
    #[test]
    fn the_runtime_leaves_a_database_on_this_machine_half_the_cores() {
        for local in [
            "postgres://u@127.0.0.1:5432/db",
            "postgresql://u:p@localhost/db?sslmode=disable",
            "postgres://u@[::1]:5432/db",
            "postgres:///db?host=/var/run/postgresql",
        ] {
            assert!(database_on_this_host(local), "{local}");
            assert_eq!((default_worker_threads(local, 2), default_worker_threads(local, 8)), (1, 4), "{local}");
            assert_eq!(default_worker_threads(local, 1), 1, "{local}: at least one");
        }
        for elsewhere in ["postgres://u@db.internal:5432/db", "postgres://u@10.0.0.7/db", "sqlite://./data/payments.db"] {
            assert!(!database_on_this_host(elsewhere), "{elsewhere}");
            assert_eq!(default_worker_threads(elsewhere, 2), 2, "{elsewhere}");
        }
        let threads = |pairs: &[(&str, &str)]| config(pairs).map(|c| c.worker_threads);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(threads(&[]), Ok(cores), "the SQLite default");
        assert_eq!(threads(&[("DB_HOST", "localhost")]), Ok((cores / 2).max(1)), "DB_HOST counts too");
        assert_eq!(threads(&[("DB_URL", "postgres://u@127.0.0.1/db"), ("SERVER_WORKER_THREADS", "3")]), Ok(3));
    }

    #[test]
    fn wrong_values_name_their_variable() {
        assert!(errors(&[("SERVER_GRPC_PORT", "70000")]).contains("VONDIPAYMENT_SERVER_GRPC_PORT"));
        assert!(errors(&[("SERVER_READ_TIMEOUT", "soon")]).contains("VONDIPAYMENT_SERVER_READ_TIMEOUT"));
        assert!(errors(&[("SERVER_MAX_CONNECTIONS", "0")]).contains("VONDIPAYMENT_SERVER_MAX_CONNECTIONS"));
        assert!(errors(&[("SERVER_WORKER_THREADS", "0")]).contains("VONDIPAYMENT_SERVER_WORKER_THREADS"));
        assert!(errors(&[("SERVER_WORKER_THREADS", "two")]).contains("VONDIPAYMENT_SERVER_WORKER_THREADS"));
        assert!(errors(&[("SERVER_IDLE_TIMEOUT", "0s")]).contains("VONDIPAYMENT_SERVER_IDLE_TIMEOUT"));
        assert!(errors(&[("AUTH_ENABLED", "maybe")]).contains("VONDIPAYMENT_AUTH_ENABLED"));
        assert!(errors(&[("DB_URL", "mysql://x")]).contains("VONDIPAYMENT_DB_URL"));
        assert!(errors(&[("DB_SQLITE_SYNCHRONOUS", "off")]).contains("VONDIPAYMENT_DB_SQLITE_SYNCHRONOUS"));
        assert!(errors(&[("GATEWAYS_DEFAULT", "paypal")]).contains("VONDIPAYMENT_GATEWAYS_DEFAULT"));
        assert!(errors(&[("ENV", "staging")]).contains("VONDIPAYMENT_ENV"));
        assert!(
            errors(&[("GATEWAYS_STRIPE_ENABLED", "true"), ("GATEWAYS_STRIPE_SUPPORTED_CURRENCIES", "USD,XYZ")])
                .contains("VONDIPAYMENT_GATEWAYS_STRIPE_SUPPORTED_CURRENCIES")
        );
    }

    #[test]
    fn reconciliation_is_off_unless_an_interval_is_given() {
        let interval = |vars: &[(&str, &str)]| config(vars).unwrap_or_else(|e| unreachable!("{e}")).reconcile_interval;
        assert_eq!(interval(&[]), None);
        assert_eq!(interval(&[("RECONCILE_INTERVAL", "off")]), None);
        assert_eq!(interval(&[("RECONCILE_INTERVAL", "24h")]), Some(Duration::from_secs(86_400)));
        assert!(errors(&[("RECONCILE_INTERVAL", "10ms")]).contains("VONDIPAYMENT_RECONCILE_INTERVAL: must be at least 1s"));
        assert!(errors(&[("RECONCILE_INTERVAL", "daily")]).contains("VONDIPAYMENT_RECONCILE_INTERVAL"));
    }

    #[test]
    fn fixtures_need_development_the_mock_alone_and_a_file() {
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo.json");
        let enabled = [("FIXTURES_ENABLED", "true"), ("FIXTURES_PATH", shipped)];
        assert!(config(&enabled).is_ok_and(|c| c.fixtures_enabled));
        assert_eq!(config(&[]).map(|c| c.fixtures_path).ok(), Some(PathBuf::from("fixtures/demo.json")));
        let production = errors(&[enabled[0], enabled[1], ("ENV", "production"), ("AUTH_JWT_SECRET", "a-production-secret")]);
        assert!(production.contains("VONDIPAYMENT_FIXTURES_ENABLED: production refuses demo data"), "{production}");
        let without_mock = errors(&[enabled[0], enabled[1], ("GATEWAYS_USE_MOCK", "false")]);
        assert!(without_mock.contains("VONDIPAYMENT_FIXTURES_ENABLED: demo data is made on the mock gateway alone"));
        let missing = errors(&[("FIXTURES_ENABLED", "true"), ("FIXTURES_PATH", "/no/such/demo.json")]);
        assert!(missing.contains("VONDIPAYMENT_FIXTURES_PATH: /no/such/demo.json is not a readable file"), "{missing}");
    }

    #[test]
    fn production_refuses_the_unsafe_development_settings() {
        let message = errors(&[("ENV", "production"), ("AUTH_ENABLED", "false"), ("AUTH_TEST_MODE", "true")]);
        for variable in ["GATEWAYS_USE_MOCK", "AUTH_ENABLED", "AUTH_TEST_MODE", "AUTH_JWT_SECRET"] {
            assert!(message.contains(&format!("{PREFIX}{variable}")), "{variable} missing in {message}");
        }
    }

    #[test]
    fn production_starts_with_stripe_alone_and_refuses_test_keys() {
        let production = [
            ("ENV", "production"),
            ("GATEWAYS_USE_MOCK", "false"),
            ("AUTH_JWT_SECRET", "a-production-secret-of-enough-length"),
            ("GATEWAYS_STRIPE_ENABLED", "true"),
            ("GATEWAYS_STRIPE_API_KEY", "sk_live_abc"),
            ("GATEWAYS_STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ];
        let started = config(&production).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(started.server_host, "0.0.0.0");
        assert_eq!((started.gateways_default.as_str(), started.gateway_names()), ("stripe", vec!["stripe"]));
        assert_eq!(started.stripe_extras.api_version, "2023-08-16");
        assert!(!format!("{started:?}").contains("sk_live_abc"));

        let mut test_key = production.to_vec();
        test_key[4] = ("GATEWAYS_STRIPE_API_KEY", "sk_test_abc");
        assert!(errors(&test_key).contains("VONDIPAYMENT_GATEWAYS_STRIPE_ALLOW_TEST_KEYS"));
        test_key.push(("GATEWAYS_STRIPE_ALLOW_TEST_KEYS", "true"));
        assert!(config(&test_key).is_ok());

        let without_secret: Vec<_> = production.iter().copied().filter(|(k, _)| *k != "GATEWAYS_STRIPE_WEBHOOK_SECRET").collect();
        assert!(errors(&without_secret).contains("VONDIPAYMENT_GATEWAYS_STRIPE_WEBHOOK_SECRET"));
        let without_key: Vec<_> = production.iter().copied().filter(|(k, _)| *k != "GATEWAYS_STRIPE_API_KEY").collect();
        assert!(errors(&without_key).contains("VONDIPAYMENT_GATEWAYS_STRIPE_API_KEY"));
    }

    #[test]
    fn production_starts_with_allsecure_alone_or_beside_stripe() {
        let allsecure = [
            ("ENV", "production"),
            ("GATEWAYS_USE_MOCK", "false"),
            ("AUTH_JWT_SECRET", "a-production-secret-of-enough-length"),
            ("GATEWAYS_ALLSECURE_ENABLED", "true"),
            ("GATEWAYS_ALLSECURE_API_KEY", "key"),
            ("GATEWAYS_ALLSECURE_USERNAME", "user"),
            ("GATEWAYS_ALLSECURE_PASSWORD", "as-pass-9"),
            ("GATEWAYS_ALLSECURE_SHARED_SECRET", "as-shared-9"),
        ];
        let alone = config(&allsecure).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((alone.gateways_default.as_str(), alone.gateway_names()), ("allsecure", vec!["allsecure"]));
        let printed = format!("{alone:?}");
        assert!(!printed.contains("as-pass-9") && !printed.contains("as-shared-9"), "secrets do not print");
        let mut both = allsecure.to_vec();
        both.extend([
            ("GATEWAYS_STRIPE_ENABLED", "true"),
            ("GATEWAYS_STRIPE_API_KEY", "sk_live_abc"),
            ("GATEWAYS_STRIPE_WEBHOOK_SECRET", "whsec_abc"),
            ("GATEWAYS_DEFAULT", "allsecure"),
        ]);
        let beside = config(&both).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((beside.gateways_default.as_str(), beside.gateway_names()), ("allsecure", vec!["stripe", "allsecure"]));
        let without_secret: Vec<_> =
            allsecure.iter().copied().filter(|(k, _)| *k != "GATEWAYS_ALLSECURE_SHARED_SECRET").collect();
        assert!(errors(&without_secret).contains("VONDIPAYMENT_GATEWAYS_ALLSECURE_SHARED_SECRET"));
    }

    #[test]
    fn token_rules_have_strict_defaults_and_named_errors() {
        let defaults = config(&[]).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(
            (defaults.auth_leeway, defaults.auth_max_token_lifetime),
            (Duration::from_secs(30), Duration::from_secs(86_400))
        );
        assert_eq!((defaults.auth_issuer, defaults.auth_audience, defaults.auth_jwks_url), (None, None, None));
        assert!(errors(&[("AUTH_LEEWAY", "1h")]).contains("VONDIPAYMENT_AUTH_LEEWAY"));
        assert!(errors(&[("AUTH_MAX_TOKEN_LIFETIME", "10s")]).contains("VONDIPAYMENT_AUTH_MAX_TOKEN_LIFETIME"));
        assert!(errors(&[("AUTH_JWKS_URL", "ftp://id.example/keys")]).contains("VONDIPAYMENT_AUTH_JWKS_URL"));
        assert!(errors(&[("AUTH_JWKS_URL", "/no/such/jwks.json")]).contains("not a readable file"));
        let both = errors(&[("AUTH_JWKS_URL", "https://id.example/jwks"), ("AUTH_JWT_PUBLIC_KEY_FILE", "Cargo.toml")]);
        assert!(both.contains("not both"), "{both}");

        let production = [
            ("ENV", "production"),
            ("GATEWAYS_USE_MOCK", "false"),
            ("GATEWAYS_STRIPE_ENABLED", "true"),
            ("GATEWAYS_STRIPE_API_KEY", "sk_live_abc"),
            ("GATEWAYS_STRIPE_WEBHOOK_SECRET", "whsec_abc"),
        ];
        let with_jwks = |url: &'static str| production.iter().copied().chain([("AUTH_JWKS_URL", url)]).collect::<Vec<_>>();
        assert!(config(&with_jwks("https://id.example/.well-known/jwks.json")).is_ok(), "a JWKS replaces the secret");
        assert!(errors(&with_jwks("http://id.example/jwks")).contains("VONDIPAYMENT_AUTH_JWKS_URL"));
    }

    #[test]
    fn credentials_with_url_characters_are_encoded() {
        let config = config(&[("DB_HOST", "db"), ("DB_USER", "app"), ("DB_PASSWORD", "p@ss/w#rd")])
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(config.db_url.expose(), "postgres://app:p%40ss%2Fw%23rd@db:5432/payment_db?sslmode=disable");
    }

    #[test]
    fn db_host_builds_a_postgres_url_and_secrets_do_not_print() {
        let config = config(&[("DB_HOST", "db"), ("DB_PORT", "35433"), ("DB_USER", "u"), ("DB_PASSWORD", "hunter2")])
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(config.db_url.expose(), "postgres://u:hunter2@db:35433/payment_db?sslmode=disable");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
