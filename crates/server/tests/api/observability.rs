use api::proto::HealthCheckRequest;
use app::Role;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use api::proto::payment_service_client::PaymentServiceClient;

use crate::helpers::{
    Db, JWT_SECRET, MOCK_WEBHOOK_SECRET, authed, checkout_request, completed_event, eventually, now, sign, spawn_app,
    start_process, token,
};

/// The value of the first series of `name` whose labels contain all of `labels`.
pub(crate) fn sample(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_checkouts_webhooks_and_requests_by_method_and_code() {
    let app = spawn_app(Db::Sqlite).await;
    let before = app.metrics().await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "10", "USD")).await.expect("checkout");
    app.create_checkout(&buyer, checkout_request("user-1", "10.001", "USD")).await.expect_err("bad amount");
    let body = completed_event("evt_metrics", &created.session_id);
    app.post_webhook("mock", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
    app.post_webhook("mock", &body, Some("t=1,v1=00")).await;
    let after = app.metrics().await;

    let delta = |name: &str, labels: &[&str]| sample(&after, name, labels) - sample(&before, name, labels);
    assert!(delta("payment_checkout_sessions_total", &["outcome=\"created\""]) >= 1.0);
    assert!(delta("payment_webhook_events_total", &["result=\"applied\""]) >= 1.0);
    assert!(delta("payment_webhook_events_total", &["result=\"rejected\""]) >= 1.0);
    let method = "method=\"/payment.v1.PaymentService/CreateCheckoutSession\"";
    assert!(delta("api_requests_total", &[method, "code=\"OK\""]) >= 1.0, "{after}");
    assert!(delta("api_requests_total", &[method, "code=\"INVALID_ARGUMENT\""]) >= 1.0);
    assert!(delta("api_request_duration_seconds_count", &[method]) >= 2.0);
    assert!(after.contains("api_request_duration_seconds_bucket"), "latency is a histogram");
    for name in ["escrow_holds_total", "escrow_releases_total", "transfers_total", "payouts_total"] {
        assert!(after.contains(name), "{name} is exported");
    }
    app.stop().await;
}

#[tokio::test]
async fn reflection_and_health_answer_like_a_grpc_server_should() {
    let app = spawn_app(Db::Sqlite).await;
    let mut reflection = ServerReflectionClient::new(app.channel.clone());
    let request =
        ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection").into_inner();
    let response = stream.message().await.expect("stream").expect("a response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer")
    };
    let services: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for service in ["payment.v1.PaymentService", "payment.v1.EscrowService", "payment.v1.WalletService", "grpc.health.v1.Health"]
    {
        assert!(services.iter().any(|s| s == service), "{service} not in {services:?}");
    }

    // The older v1alpha protocol too: many clients speak only that one.
    use tonic_reflection::pb::v1alpha as alpha;
    let mut reflection = alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(alpha::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter([request])).await.expect("v1alpha").into_inner();
    let answer = stream.message().await.expect("stream").expect("a response").message_response;
    let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) = answer else {
        panic!("unexpected v1alpha answer")
    };
    assert!(list.service.iter().any(|s| s.name == "payment.v1.WalletService"));

    let mut health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone());
    let answer = health
        .check(tonic_health::pb::HealthCheckRequest { service: "payment.v1.PaymentService".into() })
        .await
        .expect("grpc.health")
        .into_inner();
    assert_eq!(answer.status, i32::from(tonic_health::pb::health_check_response::ServingStatus::Serving));
    let ours = app.payments().health_check(HealthCheckRequest {}).await.expect("HealthCheck").into_inner();
    assert_eq!(ours.status, "SERVING");

    let response =
        app.http.get(app.url("/payment/mock?session_id=x")).header("x-request-id", "req-123").send().await.expect("http");
    assert_eq!(response.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("req-123"));
    app.stop().await;
}

#[tokio::test]
async fn made_up_grpc_methods_do_not_become_metric_labels() {
    let app = spawn_app(Db::Sqlite).await;
    let made_up = format!("/payment.v1.PaymentService/Invented{}", uuid::Uuid::new_v4().simple());
    let response = app
        .http
        .post(app.url(&made_up))
        .header("content-type", "application/grpc")
        .body(vec![0u8; 5])
        .send()
        .await
        .expect("http");
    assert_eq!(response.status().as_u16(), 200, "gRPC answers errors with HTTP 200");
    let metrics = app.metrics().await;
    assert!(!metrics.contains("Invented"), "a client-made path reached the label set");
    assert!(metrics.contains("method=\"/payment.v1.PaymentService/{*rest}\""), "counted under its route");
    app.stop().await;
}

#[tokio::test]
async fn skipped_methods_run_without_a_token_as_an_anonymous_caller() {
    let app = crate::helpers::spawn_app_with(Db::Sqlite, &[("AUTH_SKIP_METHODS", "/payment.v1.PaymentService/GetPayment")]).await;
    let request = api::proto::GetPaymentRequest { payment_id: uuid::Uuid::new_v4().to_string() };
    let answer = app.payments().get_payment(request).await.expect_err("an anonymous caller has no role");
    // Past auth, the use case refuses a caller without a role before loading anything.
    assert_eq!(answer.code(), tonic::Code::PermissionDenied, "passed auth: {}", answer.message());
    let health = app.payments().health_check(HealthCheckRequest {}).await.expect("HealthCheck stays open");
    assert_eq!(health.into_inner().status, "SERVING");
    let transfers = api::proto::transfer_service_client::TransferServiceClient::new(app.channel.clone())
        .get_transfer(api::proto::GetTransferRequest { transfer_id: uuid::Uuid::new_v4().to_string() })
        .await
        .expect_err("not skipped");
    assert_eq!(transfers.code(), tonic::Code::Unauthenticated);
    app.stop().await;
}

/// What `promtool check metrics` asks of a scrape: every family has HELP text, and
/// no series name is exported both bare and with labels.
#[tokio::test]
async fn every_metric_has_help_and_no_family_mixes_bare_and_labelled_series() {
    let app = spawn_app(Db::Sqlite).await;
    let buyer = token("user-1", &[Role::User]);
    let created = app.create_checkout(&buyer, checkout_request("user-1", "10", "USD")).await.expect("checkout");
    let body = completed_event("evt_help", &created.session_id);
    app.post_webhook("mock", &body, Some(&sign(MOCK_WEBHOOK_SECRET, &body, now()))).await;
    let scrape = app.metrics().await;
    assert!(scrape.contains("payment_checkout_sessions_total{"), "the labelled series exist: {scrape}");

    let named = |prefix: &str| -> std::collections::BTreeSet<String> {
        scrape.lines().filter_map(|l| l.strip_prefix(prefix)?.split(' ').next().map(str::to_owned)).collect()
    };
    let (typed, helped) = (named("# TYPE "), named("# HELP "));
    assert!(!typed.is_empty());
    let without_help: Vec<_> = typed.difference(&helped).collect();
    assert!(without_help.is_empty(), "no HELP for {without_help:?}");

    let mut bare = std::collections::BTreeSet::new();
    let mut labelled = std::collections::BTreeSet::new();
    for line in scrape.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        match line.split_once('{') {
            Some((name, _)) if !name.contains(' ') => labelled.insert(name.to_owned()),
            _ => bare.insert(line.split(' ').next().unwrap_or_default().to_owned()),
        };
    }
    let mixed: Vec<_> = bare.intersection(&labelled).collect();
    assert!(mixed.is_empty(), "bare beside labelled series: {mixed:?}");
    app.stop().await;
}

/// A JSON value whose objects, at any depth, repeat no key (serde_json alone keeps
/// the last of two).
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("key {key:?} appears twice")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(self)
    }
}

/// The real binary's JSON log: every line is one object with unique keys, a webhook's
/// outcome has its own key, and a charge of another amount than the payment's is a
/// warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_log_lines_have_unique_keys_and_a_wrong_amount_is_a_warning() {
    let dir = std::env::temp_dir().join("vondipayment-tests").join(uuid::Uuid::new_v4().simple().to_string());
    let process = start_process(&dir, &[("AUTH_JWT_SECRET", JWT_SECRET), ("GATEWAYS_MOCK_WEBHOOK_SECRET", MOCK_WEBHOOK_SECRET)]);
    let payments = PaymentServiceClient::new(process.channel().await);
    let buyer = token("user-1", &[Role::User]);
    let session = || {
        let (mut payments, request) = (payments.clone(), authed(checkout_request("user-1", "10.00", "USD"), &buyer));
        async move { payments.create_checkout_session(request).await.expect("checkout").into_inner().session_id }
    };
    let (paid, overcharged) = (session().await, session().await);
    gateways::install_crypto_provider();
    let http = reqwest::Client::new();
    let webhook = |body: Vec<u8>| {
        http.post(format!("http://127.0.0.1:{}/webhooks/mock", process.port))
            .header("Stripe-Signature", sign(MOCK_WEBHOOK_SECRET, &body, now()))
            .body(body)
            .send()
    };
    webhook(completed_event("evt_log_paid", &paid)).await.expect("webhook");
    let wrong_amount = serde_json::json!({
        "id": "evt_log_wrong", "type": "checkout.session.completed",
        "data": {"object": {"id": overcharged, "payment_intent": "pi_log", "amount_total": 999, "currency": "usd"}}
    });
    webhook(wrong_amount.to_string().into_bytes()).await.expect("webhook");

    let lines_with = |needle: &'static str| {
        let log = process.log.clone();
        move || {
            let lines: Vec<String> = log.lock().expect("log").iter().filter(|l| l.contains(needle)).cloned().collect();
            std::future::ready((!lines.is_empty()).then_some(lines))
        }
    };
    let paid_line = eventually("the paid event's log line", lines_with("evt_log_paid")).await;
    let wrong_line = eventually("the wrong amount's log line", lines_with("evt_log_wrong")).await;
    let (_, log, _) = process.terminate();

    for line in &log {
        serde_json::from_str::<UniqueKeys>(line).unwrap_or_else(|e| panic!("{e} in the log line {line}"));
    }
    let parse = |lines: &[String]| -> Vec<serde_json::Value> {
        lines.iter().map(|l| serde_json::from_str(l).expect("JSON log line")).collect()
    };
    let paid_line = parse(&paid_line);
    assert!(paid_line.iter().all(|l| l["level"] == "INFO"), "{paid_line:?}");
    assert!(paid_line.iter().any(|l| l["fields"]["outcome"].as_str().is_some_and(|o| o.contains("succeeded"))), "{paid_line:?}");
    let wrong_line = parse(&wrong_line);
    assert_eq!(wrong_line.len(), 1, "one line per event: {wrong_line:?}");
    assert_eq!(wrong_line[0]["level"], "WARN", "{wrong_line:?}");
    assert!(wrong_line[0]["fields"]["outcome"].as_str().is_some_and(|o| o.contains("999 usd")), "{wrong_line:?}");
}
