//! sqlx adapter of the app's `Store` port. One implementation over sqlx's `Any`
//! driver serves PostgreSQL and SQLite: the schema and queries are portable SQL with
//! `$N` placeholders, and the few dialect differences live in `Dialect`.

mod accounts;
mod balance_moves;
mod balances;
mod checkouts;
mod console;
mod disputes;
#[cfg(test)]
mod empty_table_plans;
mod escrow;
mod events;
mod held_reads;
mod idempotency;
mod inserts;
mod known_vendors;
mod ledger;
mod outbox;
mod payment_events;
mod payments;
mod payouts;
mod reconciliation;
mod refunds;
mod rows;
mod schema;
mod splits;
mod statistics;
mod stripes;
mod transfers;
mod wallet;

use std::time::Duration;

use app::StoreError;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub use schema::{MigrationStatus, migrate_down, migrate_status, migrate_up};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }

    /// The dialect of a connection the pool lent.
    fn of_connection(connection: &sqlx::AnyConnection) -> Self {
        match connection.backend_name() {
            "PostgreSQL" => Self::Postgres,
            _ => Self::Sqlite,
        }
    }

    /// Row locks for read-then-write inside a transaction. SQLite has one writer at a
    /// time (and this adapter one connection), so it needs none.
    fn for_update(self) -> &'static str {
        match self {
            Self::Postgres => " FOR UPDATE",
            Self::Sqlite => "",
        }
    }
}

/// Connection settings that matter to the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    pub max_lifetime: Duration,
    pub acquire_timeout: Duration,
    /// SQLite only; PostgreSQL's own `synchronous_commit` is the server's.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `synchronous` setting; the database runs in WAL mode. `Full`, the
/// default, syncs the log to disk at every commit, so a commit survives a power cut.
/// `Normal` syncs only at checkpoints: a commit still survives the service crashing
/// (the log is written before the commit returns) and the file is never corrupted,
/// but a power cut or an operating system crash can lose the last commits, money
/// that a gateway has already moved among them. For development and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    #[default]
    Full,
    Normal,
}

impl SqliteSynchronous {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "PRAGMA synchronous = FULL;",
            Self::Normal => "PRAGMA synchronous = NORMAL;",
        }
    }
}

impl std::str::FromStr for SqliteSynchronous {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err(format!("'{text}' is not full or normal")),
        }
    }
}

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// Reads outside a transaction. On an SQLite file, connections of their own: WAL
    /// lets them read while the one writer writes, each on its own thread, instead of
    /// queueing behind the writer's transactions. Elsewhere the same pool.
    reads: AnyPool,
    dialect: Dialect,
    known_accounts: std::sync::Arc<ledger::KnownAccounts>,
    known_vendors: std::sync::Arc<known_vendors::KnownVendors>,
    held_reads: std::sync::Arc<held_reads::HeldReads>,
    /// Transfer batches written as one statement, not in a transaction: a fallback
    /// that hid a broken fast path would otherwise go unseen.
    transfer_batches_at_once: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Foreign keys on, WAL so readers in other processes (`check-ledger`) do not block
/// the service, and a 5 s wait for another process's lock instead of failing at once.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;";

/// The reading connections refuse writes, so a write sent to them by mistake fails
/// loudly instead of racing the writer for the lock.
const SQLITE_READ_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;";

/// SQLite's reading connections: enough for both cores and a few waiting on the disk.
const SQLITE_READERS: u32 = 4;

impl SqlStore {
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        install_default_drivers();
        let dialect = Dialect::of_url(&options.url)
            .ok_or_else(|| StoreError::Database("database URL must start with postgres:// or sqlite:".into()))?;
        let synchronous = options.sqlite_synchronous.pragma();
        let pool_options = AnyPoolOptions::new().max_lifetime(options.max_lifetime).acquire_timeout(options.acquire_timeout);
        let url = match dialect {
            Dialect::Postgres => options.url.clone(),
            Dialect::Sqlite => sqlite_url_creating_file(&options.url)?,
        };
        let pool = match dialect {
            // No ping before each checkout: it is a round trip per transaction, and
            // sqlx still pings every connection as it comes back to the pool, closing
            // a broken one there.
            Dialect::Postgres => {
                pool_options.max_connections(options.max_connections).test_before_acquire(false).connect(&options.url).await
            }
            // One connection serialises writers: SQLite allows one at a time anyway,
            // and this way a transaction never fails with SQLITE_BUSY mid-way.
            Dialect::Sqlite => {
                pool_options
                    .max_connections(1)
                    // The one connection is never recycled: an in-memory database
                    // would vanish with it.
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(move |connection, _| {
                        Box::pin(async move {
                            connection.execute(SQLITE_PRAGMAS).await?;
                            connection.execute(synchronous).await.map(|_| ())
                        })
                    })
                    .connect(&url)
                    .await
            }
        }
        .map_err(db)?;
        let reads = match dialect {
            Dialect::Sqlite => sqlite_reads(&pool, &url, options.acquire_timeout).await?,
            Dialect::Postgres => pool.clone(),
        };
        Ok(Self {
            pool,
            reads,
            dialect,
            known_accounts: Default::default(),
            known_vendors: Default::default(),
            held_reads: std::sync::Arc::new(held_reads::HeldReads::new(options.max_lifetime, options.max_connections)),
            transfer_batches_at_once: Default::default(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The ledger accounts this store has found, for `ledger::post_entries`.
    pub(crate) fn known_accounts(&self) -> &ledger::KnownAccounts {
        &self.known_accounts
    }

    /// The reading connection kept between batches of reads by id (PostgreSQL).
    pub(crate) fn held_reads(&self) -> &held_reads::HeldReads {
        &self.held_reads
    }

    /// The vendors transfer batches were last written on, for `transfers` alone.
    pub(crate) fn known_vendors(&self) -> &known_vendors::KnownVendors {
        &self.known_vendors
    }

    /// How many batches of transfers were written as one statement (PostgreSQL):
    /// for tests and diagnostics.
    pub fn transfer_batches_at_once(&self) -> u64 {
        self.transfer_batches_at_once.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// For a read that needs no transaction: it sees every write committed before it.
    pub(crate) fn reads(&self) -> &AnyPool {
        &self.reads
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so another process on the same file makes it wait (busy timeout)
    /// instead of failing half-way when a read upgrades to a write.
    ///
    /// The BEGIN runs in a task of its own. sqlx 0.9 is not cancel-safe there on
    /// PostgreSQL (sqlx#4393): a caller dropped while BEGIN is in flight (client gone,
    /// deadline) returned its connection to the pool inside an open transaction, and
    /// the next borrower's autocommit writes ran in it and never committed. The task
    /// always finishes the BEGIN; when nobody waits for it any more, the transaction
    /// is dropped there, which rolls it back.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let (pool, dialect) = (self.pool.clone(), self.dialect);
        tokio::spawn(async move {
            match dialect {
                Dialect::Postgres => pool.begin().await,
                Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
            }
        })
        .await
        .map_err(|error| StoreError::Database(format!("the task opening a transaction failed: {error}")))?
        .map_err(db)
    }

    pub async fn close(&self) {
        // The pool's close waits for every connection out of it, the kept one too.
        self.held_reads.release();
        self.reads.close().await;
        self.pool.close().await;
    }
}

/// SQLite's pool for reads: connections of their own on a file in WAL mode. A
/// database in memory (or SQLite's temporary one, an empty path) exists on the
/// writer's connection only, and without WAL (a file system that refuses it) a
/// reader's lock would hold the writer's commit back: both read on the writer.
async fn sqlite_reads(writer: &AnyPool, url: &str, acquire_timeout: Duration) -> Result<AnyPool, StoreError> {
    let mode: String =
        sqlx::Row::try_get(&sqlx::query("PRAGMA journal_mode").fetch_one(writer).await.map_err(db)?, 0).map_err(db)?;
    if sqlite_file(url).is_none() || !mode.eq_ignore_ascii_case("wal") {
        return Ok(writer.clone());
    }
    AnyPoolOptions::new()
        .max_connections(SQLITE_READERS)
        .acquire_timeout(acquire_timeout)
        // A ping before each read would be one more hand-off to the connection's thread.
        .test_before_acquire(false)
        .after_connect(|connection, _| Box::pin(async move { connection.execute(SQLITE_READ_PRAGMAS).await.map(|_| ()) }))
        .connect_lazy(url)
        .map_err(db)
}

/// The file an `sqlite:` URL names; `None` for a database in memory or SQLite's
/// temporary one.
fn sqlite_file(url: &str) -> Option<&str> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory")).then_some(path)
}

/// `sqlite://data/x.db` → creates `data/` and asks SQLite to create the file.
fn sqlite_url_creating_file(url: &str) -> Result<String, StoreError> {
    let Some(path) = sqlite_file(url) else { return Ok(url.to_owned()) };
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::Database(format!("cannot create {}: {e}", parent.display())))?;
    }
    Ok(if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") })
}

/// Every per-context store trait is implemented in its module.
impl app::ports::Store for SqlStore {}

pub(crate) fn db(error: sqlx::Error) -> StoreError {
    StoreError::Database(error.to_string())
}

/// Each request's answer: written together with the others, or, where the batch
/// left it out (`None`) or its transaction failed, by `alone` in a transaction of
/// its own, so one request's failure stays its own. A lone request goes alone: its
/// own path is as short (one autocommit statement for a checkout's writes).
pub(crate) async fn together_or_alone<'a, T, R, Together, Alone>(
    requests: &'a [T],
    what: &str,
    together: impl FnOnce(&'a [T]) -> Together,
    alone: impl Fn(&'a T) -> Alone,
) -> Vec<Result<R, StoreError>>
where
    Together: std::future::Future<Output = Result<Vec<Option<R>>, StoreError>>,
    Alone: std::future::Future<Output = Result<R, StoreError>>,
{
    let together = match requests.len() {
        0 | 1 => Ok(Vec::new()),
        _ => together(requests).await,
    };
    let mut together = together
        .unwrap_or_else(|error| {
            tracing::warn!(%error, requests = requests.len(), what, "not written together: one at a time");
            Vec::new()
        })
        .into_iter();
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        answers.push(match together.next().flatten() {
            Some(answer) => Ok(answer),
            None => alone(request).await,
        });
    }
    answers
}
