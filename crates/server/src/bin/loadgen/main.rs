//! Load generator: drives one scenario against a running service on this machine,
//! through its real port, and prints `key=value` results (rate, p50/p90/p99,
//! errors). `bench/run` runs it beside pgbench; see README "Benchmark".

mod driver;
mod escrow;
mod service;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::Duration;

use app::Role;
use clap::{Parser, ValueEnum};

use driver::{Bounds, drive};
use service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, ValueEnum)]
enum Scenario {
    /// Paid checkouts: CreateCheckoutSession, then the mock page's success button.
    Checkout,
    /// CreateTransfer of 1.00 USD from the platform's cash to onboarded vendors.
    Transfer,
    /// GetPayment of paid payments made at the start.
    GetPayment,
    /// `--count` escrowed paid checkouts made due, then ProcessExpiredEscrows until none is left (timed).
    EscrowRelease,
}

#[derive(Parser)]
#[command(about = "Drives one scenario against a vondipayment on this machine and reports throughput and latency")]
struct Args {
    scenario: Scenario,
    /// The service's address; only this machine (127.0.0.1 or localhost). Given
    /// several times (replicas), workers are spread over them in turn.
    #[arg(long = "url", default_value = "http://127.0.0.1:30051")]
    urls: Vec<String>,
    /// The service's VONDIPAYMENT_AUTH_JWT_SECRET (tokens are minted with it).
    #[arg(long, env = "VONDIPAYMENT_AUTH_JWT_SECRET", hide_env_values = true)]
    secret: String,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// How long to run, at most (`15s`, `1m`); escrow-release ends when its holds are released.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Stop after this many operations; for escrow-release, the holds to make.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    count: Option<u64>,
    /// Transfers go round-robin to this many vendors (1 = every transfer to one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    vendors: u16,
    /// The service's database (escrow-release only: it makes its holds due now).
    #[arg(long, env = "VONDIPAYMENT_DB_URL", hide_env_values = true)]
    db_url: Option<String>,
}

// One thread: the load generator shares the machine with the service and PostgreSQL,
// and on 2 cores its second runtime worker cost a quarter more CPU per call
// (0.025 against 0.018 ms per GetPayment) than the calls themselves needed.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    for url in &args.urls {
        ensure_local(url)?;
    }
    gateways::install_crypto_provider();
    let roles = [Role::Service, Role::Admin];
    let token = api::mint_hs256(args.secret.as_bytes(), "loadgen", &roles, chrono::Duration::hours(2))?;
    let mut replicas = Vec::new();
    for url in &args.urls {
        replicas.push(Service::connect(url, token.clone()).await?);
    }
    let service = replicas.first().ok_or("no --url")?.clone();
    let bounds = Bounds { concurrency: usize::from(args.concurrency), duration: args.duration, count: args.count };
    // Names this run's keys and vendors apart from earlier runs on the same database
    // (a process id can come back).
    let run: u32 = rand::random();
    match args.scenario {
        Scenario::Checkout => {
            let workers = workers(&replicas, bounds.concurrency).await?;
            let report = drive(bounds, move |worker, n| {
                let service = workers[worker].clone();
                async move { service.paid_checkout(&format!("load-{run}-{n}"), "10.00", None).await.map(|_| 1) }
            })
            .await;
            report.print("checkout", "checkouts", "");
        }
        Scenario::Transfer => {
            let mut vendors = Vec::new();
            for n in 0..args.vendors {
                vendors.push(service.onboarded_vendor(&format!("load-{run}-vendor-{n}")).await?);
            }
            // Platform cash for 900,000 transfers of 1.00 (a checkout is below a million).
            service.paid_checkout(&format!("load-{run}-funds"), "900000.00", None).await?;
            let (workers, vendors) = (workers(&replicas, bounds.concurrency).await?, Arc::new(vendors));
            let report = drive(bounds, move |worker, n| {
                let (service, vendors) = (workers[worker].clone(), vendors.clone());
                async move {
                    let vendor = &vendors[(n % vendors.len() as u64) as usize];
                    service.transfer(vendor, "1.00", &format!("load-{run}-transfer-{n}")).await.map(|()| 1)
                }
            })
            .await;
            report.print("transfer", "transfers", "");
        }
        Scenario::GetPayment => {
            let mut payments = Vec::new();
            for n in 0..bounds.concurrency {
                payments.push(service.paid_checkout(&format!("load-{run}-read-{n}"), "10.00", None).await?);
            }
            let (workers, payments) = (workers(&replicas, bounds.concurrency).await?, Arc::new(payments));
            let report = drive(bounds, move |worker, _| {
                let (service, payments) = (workers[worker].clone(), payments.clone());
                async move { service.get_payment(&payments[worker]).await.map(|()| 1) }
            })
            .await;
            report.print("get-payment", "reads", "");
        }
        Scenario::EscrowRelease => {
            let db_url = args.db_url.ok_or("escrow-release needs --db-url (or VONDIPAYMENT_DB_URL) to make its holds due")?;
            escrow::release(&service, workers(&replicas, bounds.concurrency).await?, bounds, &db_url, run).await?;
        }
    }
    Ok(())
}

/// One connection per worker, so that workers do not share one HTTP/2 connection;
/// worker `n` talks to replica `n mod replicas`.
async fn workers(replicas: &[Service], count: usize) -> Result<Arc<Vec<Service>>, BoxError> {
    let mut workers = Vec::with_capacity(count);
    for (_, replica) in (0..count).zip(replicas.iter().cycle()) {
        workers.push(replica.reconnect().await?);
    }
    Ok(Arc::new(workers))
}

/// The load stays on this machine: a typo must not load someone else's service.
fn ensure_local(url: &str) -> Result<(), BoxError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--url {url}: {e}"))?;
    match parsed.host_str() {
        Some("127.0.0.1" | "localhost" | "[::1]") if parsed.scheme() == "http" => Ok(()),
        _ => Err(format!("--url {url}: only http://127.0.0.1:PORT or http://localhost:PORT").into()),
    }
}
