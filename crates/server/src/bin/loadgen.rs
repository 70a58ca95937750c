//! Load generator: paid checkouts against a running service, through its real gRPC
//! port. Each operation is CreateCheckoutSession followed by the trusted
//! `checkout.session.completed` event (ProcessWebhookEvent), i.e. two requests, two
//! database transactions and one ledger entry. See README "Benchmark".

use std::time::{Duration, Instant};

use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::{self, CreateCheckoutSessionRequest, ProcessWebhookEventRequest};
use app::Role;
use clap::Parser;
use tonic::transport::Channel;

#[derive(Parser)]
#[command(about = "Drives paid checkouts against a running vondipayment and reports throughput and latency")]
struct Args {
    /// The service's gRPC address.
    #[arg(long, default_value = "http://127.0.0.1:30051")]
    url: String,
    /// The service's VONDIPAYMENT_AUTH_JWT_SECRET (tokens are minted with it).
    #[arg(long, env = "VONDIPAYMENT_AUTH_JWT_SECRET")]
    secret: String,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let service = api::mint_hs256(args.secret.as_bytes(), "loadgen", &[Role::Service], chrono::Duration::hours(1))?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..args.concurrency {
        let channel = Channel::from_shared(args.url.clone())?.connect().await?;
        let service = service.clone();
        workers.spawn(async move { run_worker(worker, channel, service, deadline).await });
    }
    let mut latencies: Vec<Duration> = Vec::new();
    let mut errors = 0usize;
    for result in workers.join_all().await {
        let (worker_latencies, worker_errors) = result?;
        latencies.extend(worker_latencies);
        errors += worker_errors;
    }
    latencies.sort();
    let percentile = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default();
    let rate = latencies.len() as f64 / args.seconds as f64;
    println!(
        "paid checkouts: {} in {}s = {rate:.1}/s ({:.1} requests/s), errors {errors}, latency p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        args.seconds,
        rate * 2.0,
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
    );
    Ok(())
}

async fn run_worker(
    worker: usize,
    channel: Channel,
    service: String,
    deadline: Instant,
) -> Result<(Vec<Duration>, usize), BoxError> {
    let mut client = PaymentServiceClient::new(channel);
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let started = Instant::now();
        match paid_checkout(&mut client, &service, worker, n).await {
            Ok(()) => latencies.push(started.elapsed()),
            Err(_) => errors += 1,
        }
    }
    Ok((latencies, errors))
}

fn authed<T>(message: T, token: &str) -> Result<tonic::Request<T>, BoxError> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

async fn paid_checkout(client: &mut PaymentServiceClient<Channel>, service: &str, worker: usize, n: u64) -> Result<(), BoxError> {
    let checkout = CreateCheckoutSessionRequest {
        user_id: format!("load-{worker}"),
        amount: "10.00".into(),
        currency: "USD".into(),
        payment_type: proto::PaymentType::ProductB2c.into(),
        success_url: "https://load.example/ok".into(),
        cancel_url: "https://load.example/no".into(),
        idempotency_key: format!("load-{worker}-{n}-{}", std::process::id()),
        ..Default::default()
    };
    let created = client.create_checkout_session(authed(checkout, service)?).await?.into_inner();
    let event = ProcessWebhookEventRequest {
        event_id: format!("evt_{}", created.session_id),
        event_type: "checkout.session.completed".into(),
        event_payload: serde_json::json!({"id": created.session_id}).to_string().into_bytes(),
        created_at: None,
        gateway_name: "mock".into(),
    };
    let answer = client.process_webhook_event(authed(event, service)?).await?.into_inner();
    if answer.success { Ok(()) } else { Err(answer.error_message.into()) }
}
