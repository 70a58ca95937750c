//! Events to the platform: written with each state change, POSTed signed to the
//! subscribed endpoints, retried, redelivered by hand, and not lost by a killed
//! service.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use api::proto::event_service_client::EventServiceClient;
use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::{
    self, CreateEventEndpointRequest, CreateRefundRequest, EventTypeList, ListEventDeliveriesRequest, ListEventsRequest,
    RedeliverEventRequest, UpdateEventEndpointRequest,
};
use app::Role;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tonic::transport::Channel;

use crate::console::sign_in;
use crate::disputes::mock_dispute_event;
use crate::helpers::{
    Db, JWT_SECRET, MOCK_WEBHOOK_SECRET, TestApp, authed, checkout_request, drop_database, eventually, fresh_database,
    spawn_app_with, start_process, token,
};
use crate::marketplace::admin;
use crate::observability::sample;
use crate::on_both_databases;
use crate::pages::{WebSession, hidden};

on_both_databases!(
    a_failing_endpoint_gets_each_subscribed_event_acknowledged_once_in_order,
    endpoints_refuse_bad_input_and_other_roles,
    a_dispute_is_told_opened_then_closed,
    a_paid_checkouts_events_arrive_on_jetstream_in_order,
    events_wait_in_the_outbox_while_nats_is_unreachable,
    a_slow_endpoint_gets_a_batch_of_events_at_once,
    endpoints_are_created_disabled_and_deleted_from_the_console,
);

/// The NATS server with JetStream on this machine and in CI.
const NATS_URL: &str = "nats://127.0.0.1:4222";

/// Fast retries, so a test sees several tries in well under a second.
const FAST_DELIVERY: [(&str, &str); 3] =
    [("EVENTS_DELIVERY_INTERVAL", "50ms"), ("EVENTS_RETRY_FIRST_DELAY", "50ms"), ("EVENTS_DELIVERY_TIMEOUT", "1s")];

/// What the platform's endpoint saw.
#[derive(Default)]
struct Inbox {
    secret: String,
    /// Requests still to refuse with 503.
    refuse_next: usize,
    /// Refuse every request while false (the platform is down).
    up: bool,
    requests: usize,
    bad_signatures: usize,
    /// (event id, type, object id) of each request answered 200, in order.
    acknowledged: Vec<(String, String, String)>,
}

type Shared = Arc<Mutex<Inbox>>;

async fn receive(State(inbox): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let mut inbox = inbox.lock().expect("inbox");
    inbox.requests += 1;
    let signature = headers.get("vondi-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if gateways::signature::verify(&inbox.secret, signature, &body, chrono::Utc::now()).is_err() {
        inbox.bad_signatures += 1;
        return StatusCode::BAD_REQUEST;
    }
    let event: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    let header_id = headers.get("vondi-event-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(event["id"].as_str(), Some(header_id), "the id header is the body's id");
    assert_eq!(event["data"]["id"], event["object_id"], "the data is the object");
    if !inbox.up || inbox.refuse_next > 0 {
        inbox.refuse_next = inbox.refuse_next.saturating_sub(1);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let text = |field: &str| event[field].as_str().unwrap_or_default().to_owned();
    inbox.acknowledged.push((text("id"), text("type"), text("object_id")));
    StatusCode::OK
}

/// A local receiver; returns its URL and what it saw.
async fn platform(refuse_next: usize, up: bool) -> (String, Shared) {
    let inbox: Shared = Arc::new(Mutex::new(Inbox { refuse_next, up, ..Inbox::default() }));
    let router = axum::Router::new().route("/hooks", axum::routing::post(receive)).with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, inbox)
}

fn events_client(channel: &Channel) -> EventServiceClient<Channel> {
    EventServiceClient::new(channel.clone())
}

fn types(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

async fn create_endpoint(channel: &Channel, url: &str, event_types: &[&str]) -> (String, String) {
    let request = CreateEventEndpointRequest { url: url.into(), event_types: types(event_types), description: "platform".into() };
    let created = events_client(channel).create_event_endpoint(authed(request, &admin())).await.expect("endpoint").into_inner();
    (created.endpoint.expect("endpoint").id, created.secret)
}

async fn all_events(channel: &Channel) -> Vec<proto::Event> {
    let request = ListEventsRequest { limit: 100, ..Default::default() };
    events_client(channel).list_events(authed(request, &admin())).await.expect("events").into_inner().events
}

async fn deliveries(channel: &Channel, endpoint_id: &str) -> Vec<proto::EventDelivery> {
    let request = ListEventDeliveriesRequest { endpoint_id: endpoint_id.into(), limit: 100, offset: 0 };
    events_client(channel).list_event_deliveries(authed(request, &admin())).await.expect("deliveries").into_inner().deliveries
}

fn acknowledged_ids(inbox: &Shared) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (id, _, _) in &inbox.lock().expect("inbox").acknowledged {
        *counts.entry(id.clone()).or_insert(0) += 1;
    }
    counts
}

async fn a_failing_endpoint_gets_each_subscribed_event_acknowledged_once_in_order(db: Db) {
    let app = spawn_app_with(db, &FAST_DELIVERY).await;
    let (url, inbox) = platform(3, true).await;
    let subscribed = ["payment.succeeded", "payment.refunded", "refund.created", "refund.succeeded"];
    let (endpoint_id, secret) = create_endpoint(&app.channel, &url, &subscribed).await;
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    inbox.lock().expect("inbox").secret = secret;
    // A second endpoint, disabled before anything happens, gets nothing.
    let (disabled_id, _) = create_endpoint(&app.channel, &url, &["*"]).await;
    let disable = UpdateEventEndpointRequest { endpoint_id: disabled_id.clone(), enabled: Some(false), ..Default::default() };
    let disabled = events_client(&app.channel).update_event_endpoint(authed(disable, &admin())).await.expect("update");
    assert!(!disabled.into_inner().endpoint.expect("endpoint").enabled);

    let mut paid = Vec::new();
    for (buyer, amount) in [("buyer-1", "10.00"), ("buyer-2", "20.00"), ("buyer-3", "30.00")] {
        paid.push(app.paid_checkout(buyer, amount, "USD").await);
    }
    let failed = app.create_checkout(&token("buyer-4", &[Role::User]), checkout_request("buyer-4", "5.00", "USD")).await;
    app.complete_on_mock_page(&failed.expect("checkout").session_id, "failure").await;
    let refund = CreateRefundRequest { payment_id: paid[0].clone(), reason: "returned".into(), ..Default::default() };
    app.refunds().create_refund(authed(refund, &admin())).await.expect("refund");

    let written = all_events(&app.channel).await;
    let wanted: Vec<&proto::Event> = written.iter().filter(|e| subscribed.contains(&e.r#type.as_str())).collect();
    assert_eq!(wanted.len(), 6, "3 payments, the refund's two events and payment.refunded: {written:?}");
    assert!(written.iter().any(|e| e.r#type == "payment.failed"), "written, but not subscribed to");
    eventually("every delivery acknowledged", || async {
        let all = deliveries(&app.channel, &endpoint_id).await;
        (all.len() == wanted.len() && all.iter().all(|d| d.status == "delivered")).then_some(())
    })
    .await;

    let counts = acknowledged_ids(&inbox);
    let expected: BTreeMap<String, usize> = wanted.iter().map(|e| (e.id.clone(), 1)).collect();
    assert_eq!(counts, expected, "each subscribed event acknowledged exactly once, nothing else");
    {
        let seen = inbox.lock().expect("inbox");
        assert_eq!(seen.bad_signatures, 0, "every signature verifies");
        assert_eq!(seen.requests, wanted.len() + 3, "three refusals, then one request per event");
        let refunded_payment: Vec<&str> =
            seen.acknowledged.iter().filter(|(_, _, object)| *object == paid[0]).map(|(_, t, _)| t.as_str()).collect();
        assert_eq!(refunded_payment, ["payment.succeeded", "payment.refunded"], "one object's events in order");
    }
    let attempts: i32 = deliveries(&app.channel, &endpoint_id).await.iter().map(|d| d.attempts).sum();
    assert_eq!(attempts, i32::try_from(wanted.len() + 3).expect("small"));
    assert!(deliveries(&app.channel, &disabled_id).await.is_empty(), "a disabled endpoint gets nothing");

    // By hand: the first event again, and the failed payment's to this endpoint,
    // which is not subscribed to it.
    let again = RedeliverEventRequest { event_id: wanted[0].id.clone(), endpoint_id: String::new() };
    let made_due = events_client(&app.channel).redeliver_event(authed(again, &admin())).await.expect("redeliver");
    assert_eq!(made_due.into_inner().deliveries, 1);
    let failed_event = written.iter().find(|e| e.r#type == "payment.failed").expect("payment.failed");
    let forced = RedeliverEventRequest { event_id: failed_event.id.clone(), endpoint_id: endpoint_id.clone() };
    events_client(&app.channel).redeliver_event(authed(forced, &admin())).await.expect("redeliver");
    eventually("the redeliveries", || async {
        let counts = acknowledged_ids(&inbox);
        (counts.get(&wanted[0].id) == Some(&2) && counts.get(&failed_event.id) == Some(&1)).then_some(())
    })
    .await;

    // The console lists the endpoint and its deliveries; its button sends again.
    let mut web = WebSession::new(&app);
    sign_in(&mut web, "ops", "role_admin").await;
    let page = web.get("/sr/admin/events").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&url) && page.body.contains("Isporučeno") && page.body.contains(&wanted[1].id), "{}", page.body);
    let csrf = hidden(&page.body, "csrf");
    let pressed = web
        .post("/sr/admin/events/redeliver", &[("csrf", &csrf), ("event_id", &wanted[1].id), ("endpoint_id", &endpoint_id)])
        .await;
    assert_eq!((pressed.status, pressed.location()), (303, "/sr/admin/events"), "{}", pressed.body);
    eventually("the console's redelivery", || async { (acknowledged_ids(&inbox).get(&wanted[1].id) == Some(&2)).then_some(()) })
        .await;

    let unknown = RedeliverEventRequest { event_id: uuid::Uuid::now_v7().to_string(), endpoint_id: String::new() };
    let missing = events_client(&app.channel).redeliver_event(authed(unknown, &admin())).await.expect_err("unknown event");
    assert_eq!(missing.code(), tonic::Code::NotFound);

    app.assert_ledger_ok();
    app.stop().await;
}

async fn a_dispute_is_told_opened_then_closed(db: Db) {
    let app = spawn_app_with(db, &FAST_DELIVERY).await;
    let (url, inbox) = platform(0, true).await;
    let (endpoint_id, secret) = create_endpoint(&app.channel, &url, &["dispute.opened", "dispute.closed"]).await;
    inbox.lock().expect("inbox").secret = secret;
    let payment_id = app.paid_checkout("buyer-1", "40.00", "USD").await;
    let intent = app.get_payment(&crate::marketplace::admin(), &payment_id).await.expect("payment").gateway_payment_intent_id;
    let mut dispute = serde_json::json!({"id": "dp_events_1", "object": "dispute", "amount": 4_000, "currency": "usd",
        "payment_intent": intent, "reason": "fraudulent", "status": "needs_response"});
    assert!(mock_dispute_event(&app, "evt_dispute_1", "charge.dispute.created", &dispute).await);
    dispute["status"] = serde_json::json!("under_review");
    assert!(mock_dispute_event(&app, "evt_dispute_2", "charge.dispute.updated", &dispute).await);
    dispute["status"] = serde_json::json!("won");
    assert!(mock_dispute_event(&app, "evt_dispute_3", "charge.dispute.closed", &dispute).await);

    eventually("both dispute events acknowledged", || async {
        let all = deliveries(&app.channel, &endpoint_id).await;
        (all.len() == 2 && all.iter().all(|d| d.status == "delivered")).then_some(())
    })
    .await;
    let dispute_id = app.disputes_of(&payment_id).await[0].id.clone();
    let (bad_signatures, told) = {
        let seen = inbox.lock().expect("inbox");
        let told: Vec<(String, String)> = seen.acknowledged.iter().map(|(_, t, object)| (t.clone(), object.clone())).collect();
        (seen.bad_signatures, told)
    };
    assert_eq!(bad_signatures, 0, "every signature verifies");
    let expected = [("dispute.opened", &dispute_id), ("dispute.closed", &dispute_id)].map(|(t, o)| (t.to_owned(), o.clone()));
    assert_eq!(told, expected, "opened, then closed; moving to under review is not told");
    let closed = all_events(&app.channel).await.into_iter().find(|e| e.r#type == "dispute.closed").expect("dispute.closed");
    let data: serde_json::Value = serde_json::from_str(&closed.data_json).expect("JSON payload");
    assert_eq!(
        (data["status"].as_str(), data["amount"].as_str(), data["payment_id"].as_str()),
        (Some("won"), Some("40.00"), Some(payment_id.as_str()))
    );
    app.assert_ledger_ok();
    app.stop().await;
}

/// JetStream on the local NATS server, or `None` (the test says it is skipped) when
/// nothing answers there.
async fn jetstream() -> Option<async_nats::jetstream::Context> {
    let options = async_nats::ConnectOptions::new().connection_timeout(std::time::Duration::from_secs(5));
    match options.connect(NATS_URL).await {
        Ok(client) => Some(async_nats::jetstream::new(client)),
        Err(error) => {
            eprintln!("SKIPPED: no NATS server answers at {NATS_URL} ({error})");
            None
        }
    }
}

async fn a_paid_checkouts_events_arrive_on_jetstream_in_order(db: Db) {
    let Some(jetstream) = jetstream().await else { return };
    // A stream and subjects of this test's own, so parallel tests do not mix.
    let stream_name = format!("TEST_{}", uuid::Uuid::new_v4().simple());
    let prefix = format!("test.{stream_name}");
    let app = spawn_app_with(db, &nats_settings(NATS_URL, &prefix, &stream_name)).await;
    let payment_id = app.paid_checkout("buyer-1", "10.00", "USD").await;
    let refund = CreateRefundRequest { payment_id: payment_id.clone(), reason: "returned".into(), ..Default::default() };
    app.refunds().create_refund(authed(refund, &admin())).await.expect("refund");

    let mut written = all_events(&app.channel).await;
    written.sort_by(|a, b| a.id.cmp(&b.id));
    let count = u64::try_from(written.len()).expect("small");
    let stream = stream_with(&jetstream, &stream_name, count).await;

    // (event id, subject, object id) in the stream's order.
    let mut published = Vec::new();
    for sequence in 1..=count {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let header = message.headers.get("Nats-Msg-Id").expect("Nats-Msg-Id").as_str().to_owned();
        let body: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON body");
        assert_eq!(body["id"].as_str(), Some(header.as_str()), "the header is the body's id");
        assert!(message.headers.get("Vondi-Signature").is_none(), "no signature: NATS has its own auth");
        let object = body["object_id"].as_str().unwrap_or_default().to_owned();
        published.push((header, message.subject.to_string(), object));
    }
    let mut ids: Vec<&str> = published.iter().map(|(id, _, _)| id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, written.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), "each event once");
    for event in &written {
        let (_, subject, _) = published.iter().find(|(id, _, _)| *id == event.id).expect("published");
        assert_eq!(*subject, format!("{prefix}.{}", event.r#type));
    }
    let payment_events: Vec<&str> =
        published.iter().filter(|(_, _, object)| *object == payment_id).map(|(_, subject, _)| subject.as_str()).collect();
    let expected = [format!("{prefix}.payment.succeeded"), format!("{prefix}.payment.refunded")];
    assert_eq!(payment_events, expected, "one object's events in order");
    for object in written.iter().map(|e| &e.object_id) {
        let on_stream: Vec<&str> = published.iter().filter(|(_, _, o)| o == object).map(|(id, _, _)| id.as_str()).collect();
        assert!(on_stream.is_sorted(), "{object}'s events in their order: {on_stream:?}");
    }

    app.assert_ledger_ok();
    app.stop().await;
    jetstream.delete_stream(&stream_name).await.expect("delete the test's stream");
}

/// An endpoint that holds its first request until the test lets it go, then holds
/// each later one until `GATHER` are in flight at once (or ten seconds pass).
struct Gathering {
    requests: tokio::sync::watch::Sender<usize>,
    in_flight: tokio::sync::watch::Sender<usize>,
    most_in_flight: Mutex<usize>,
    release_first: tokio::sync::Notify,
}

const GATHER: usize = 4;

async fn gather(State(endpoint): State<Arc<Gathering>>) -> StatusCode {
    let mut number = 0;
    endpoint.requests.send_modify(|count| {
        *count += 1;
        number = *count;
    });
    if number == 1 {
        endpoint.release_first.notified().await;
        return StatusCode::OK;
    }
    // The count as this request made it: read later, the others may already have
    // seen four and left.
    let mut now_in_flight = 0;
    endpoint.in_flight.send_modify(|count| {
        *count += 1;
        now_in_flight = *count;
    });
    {
        let mut most = endpoint.most_in_flight.lock().expect("most");
        *most = (*most).max(now_in_flight);
    }
    let mut in_flight = endpoint.in_flight.subscribe();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), in_flight.wait_for(|count| *count >= GATHER)).await;
    endpoint.in_flight.send_modify(|count| *count -= 1);
    StatusCode::OK
}

/// Deliveries are sent a batch at once, not one after another: while the first
/// event's delivery hangs, four more payments succeed; once it is let go, their four
/// events reach the endpoint together (a one-at-a-time sender would have one in
/// flight at most).
async fn a_slow_endpoint_gets_a_batch_of_events_at_once(db: Db) {
    let settings = [("EVENTS_DELIVERY_INTERVAL", "50ms"), ("EVENTS_DELIVERY_TIMEOUT", "60s")];
    let app = spawn_app_with(db, &settings).await;
    let endpoint = Arc::new(Gathering {
        requests: tokio::sync::watch::Sender::new(0),
        in_flight: tokio::sync::watch::Sender::new(0),
        most_in_flight: Mutex::new(0),
        release_first: tokio::sync::Notify::new(),
    });
    let router = axum::Router::new().route("/hooks", axum::routing::post(gather)).with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (endpoint_id, _) = create_endpoint(&app.channel, &url, &["payment.succeeded"]).await;

    app.paid_checkout("buyer-0", "10.00", "USD").await;
    eventually("the first delivery is in flight", || async { (*endpoint.requests.borrow() == 1).then_some(()) }).await;
    for buyer in 1..=GATHER {
        app.paid_checkout(&format!("buyer-{buyer}"), "10.00", "USD").await;
    }
    endpoint.release_first.notify_one();
    eventually("every delivery acknowledged", || async {
        let all = deliveries(&app.channel, &endpoint_id).await;
        (all.len() == GATHER + 1 && all.iter().all(|d| d.status == "delivered")).then_some(all)
    })
    .await;
    assert_eq!(*endpoint.most_in_flight.lock().expect("most"), GATHER, "the four later events were sent at once");
    assert_eq!(*endpoint.requests.borrow(), GATHER + 1, "one request per event");
    app.assert_ledger_ok();
    app.stop().await;
}

/// The settings of a service publishing to `url` on this test's own stream.
fn nats_settings<'a>(url: &'a str, prefix: &'a str, stream: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("EVENTS_DELIVERY_INTERVAL", "50ms"),
        ("EVENTS_NATS_URL", url),
        ("EVENTS_NATS_SUBJECT_PREFIX", prefix),
        ("EVENTS_NATS_STREAM", stream),
    ]
}

/// The stream once it holds `count` messages.
async fn stream_with(
    jetstream: &async_nats::jetstream::Context,
    name: &str,
    count: u64,
) -> async_nats::jetstream::stream::Stream {
    eventually("every event on the stream", || async {
        let stream = jetstream.get_stream(name).await.ok()?;
        (stream.cached_info().state.messages == count).then_some(stream)
    })
    .await
}

/// The service starts and takes payments while NATS does not answer; its events wait
/// in the outbox and are published, each once, when NATS answers (here: a port that
/// refuses connections until it starts forwarding to the local NATS).
async fn events_wait_in_the_outbox_while_nats_is_unreachable(db: Db) {
    let Some(jetstream) = jetstream().await else { return };
    let stream_name = format!("TEST_{}", uuid::Uuid::new_v4().simple());
    let prefix = format!("test.{stream_name}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let url = format!("nats://127.0.0.1:{port}");
    let app = spawn_app_with(db, &nats_settings(&url, &prefix, &stream_name)).await;
    let payment_id = app.paid_checkout("buyer-1", "10.00", "USD").await;
    let written = all_events(&app.channel).await;
    assert!(written.iter().any(|e| e.object_id == payment_id), "the payment's events are written");
    eventually("a failed publication round", || async {
        let failed = sample(&app.metrics().await, "event_publications_total", &["result=\"failed\""]);
        (failed > 0.0).then_some(())
    })
    .await;
    assert!(jetstream.get_stream(&stream_name).await.is_err(), "nothing reached NATS yet");

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("the port is still free");
    let forwarder = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect("127.0.0.1:4222").await.expect("NATS");
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    stream_with(&jetstream, &stream_name, u64::try_from(written.len()).expect("small")).await;

    app.assert_ledger_ok();
    app.stop().await;
    forwarder.abort();
    jetstream.delete_stream(&stream_name).await.expect("delete the test's stream");
}

async fn endpoints_refuse_bad_input_and_other_roles(db: Db) {
    let app: TestApp = spawn_app_with(db, &FAST_DELIVERY).await;
    let mut client = events_client(&app.channel);
    let bad = |url: &str, list: &[&str]| CreateEventEndpointRequest {
        url: url.into(),
        event_types: types(list),
        description: String::new(),
    };
    for (request, field) in [
        (bad("ftp://platform.example", &["*"]), "url"),
        (bad("https://platform.example", &[]), "event_types"),
        (bad("https://platform.example", &["payment.exploded"]), "event_types"),
    ] {
        let refused = client.create_event_endpoint(authed(request, &admin())).await.expect_err("bad input");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(refused.message().contains(field), "{}", refused.message());
    }
    let user = token("buyer-1", &[Role::User]);
    let refused = client.create_event_endpoint(authed(bad("https://p.example", &["*"]), &user)).await.expect_err("user");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let listed = client.list_event_endpoints(authed(proto::ListEventEndpointsRequest::default(), &admin())).await;
    assert_eq!(listed.expect("list").into_inner().total, 0, "refusals wrote nothing");

    let (id, _) = create_endpoint(&app.channel, "https://p.example/hooks", &["*"]).await;
    let update = UpdateEventEndpointRequest {
        endpoint_id: id.clone(),
        event_types: Some(EventTypeList { event_types: types(&["nope"]) }),
        ..Default::default()
    };
    let refused = client.update_event_endpoint(authed(update, &admin())).await.expect_err("bad type");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let get = proto::GetEventEndpointRequest { endpoint_id: id.clone() };
    let unchanged = client.get_event_endpoint(authed(get, &admin())).await.expect("get").into_inner();
    assert_eq!(unchanged.endpoint.expect("endpoint").event_types, ["*"]);
    let delete = proto::DeleteEventEndpointRequest { endpoint_id: id.clone() };
    client.delete_event_endpoint(authed(delete.clone(), &admin())).await.expect("delete");
    let gone = client.delete_event_endpoint(authed(delete, &admin())).await.expect_err("deleted");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    app.stop().await;
}

/// A checkout paid on the mock page of a service process; returns the payment id.
async fn paid_on_process(channel: &Channel, port: u16, buyer: &str) -> String {
    let request = authed(checkout_request(buyer, "12.00", "USD"), &token(buyer, &[Role::User]));
    let created = PaymentServiceClient::new(channel.clone()).create_checkout_session(request).await.expect("checkout");
    let created = created.into_inner();
    let form = [("session_id", created.session_id.as_str()), ("outcome", "success")];
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = http.post(format!("http://127.0.0.1:{port}/payment/mock/complete")).form(&form).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 303);
    created.payment_id
}

/// Events written while the platform is down survive a SIGKILL of the service: the
/// next process delivers every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_service_loses_no_event() {
    gateways::install_crypto_provider();
    let db_url = fresh_database(Db::Postgres).await;
    let dir = std::env::temp_dir().join("vondipayment-tests").join(uuid::Uuid::new_v4().simple().to_string());
    let data_dir = dir.join("data");
    let envs = [
        ("ENV", "development"),
        ("DB_URL", db_url.as_str()),
        ("AUTH_JWT_SECRET", JWT_SECRET),
        ("GATEWAYS_MOCK_WEBHOOK_SECRET", MOCK_WEBHOOK_SECRET),
        ("DATA_DIR", data_dir.to_str().expect("utf-8")),
        // start_process waits for the info line "payment service listening".
        ("LOG_LEVEL", "info"),
        FAST_DELIVERY[0],
        FAST_DELIVERY[1],
        FAST_DELIVERY[2],
    ];
    let (url, inbox) = platform(0, false).await;
    let first = start_process(&dir.join("first"), &envs);
    let channel = first.channel().await;
    let (_, secret) = create_endpoint(&channel, &url, &["*"]).await;
    inbox.lock().expect("inbox").secret = secret;
    for buyer in ["buyer-1", "buyer-2", "buyer-3"] {
        paid_on_process(&channel, first.port, buyer).await;
    }
    eventually("the platform refused a try", || async { (inbox.lock().expect("inbox").requests > 0).then_some(()) }).await;
    let mut first = first;
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("killed");

    inbox.lock().expect("inbox").up = true;
    let second = start_process(&dir.join("second"), &envs);
    let channel = second.channel().await;
    let written = all_events(&channel).await;
    assert!(written.len() >= 3, "three payments at least: {written:?}");
    eventually("every event delivered after the restart", || async {
        let counts = acknowledged_ids(&inbox);
        written.iter().all(|e| counts.contains_key(&e.id)).then_some(())
    })
    .await;
    assert_eq!(inbox.lock().expect("inbox").bad_signatures, 0);
    let (status, _, _) = second.terminate();
    assert!(status.success());
    drop_database(&db_url).await;
}

/// A delivery still refused when its retry window ends is dead: not tried again
/// until someone sends it by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_refused_past_its_window_is_dead_until_sent_again() {
    let mut settings = FAST_DELIVERY.to_vec();
    settings.push(("EVENTS_RETRY_GIVE_UP_AFTER", "300ms"));
    let app = spawn_app_with(Db::Sqlite, &settings).await;
    let (url, inbox) = platform(0, false).await;
    let (endpoint_id, secret) = create_endpoint(&app.channel, &url, &["payment.succeeded"]).await;
    inbox.lock().expect("inbox").secret = secret;
    app.paid_checkout("buyer-1", "10.00", "USD").await;
    let dead = eventually("the delivery dead-lettered", || async {
        let all = deliveries(&app.channel, &endpoint_id).await;
        all.into_iter().find(|d| d.status == "dead")
    })
    .await;
    assert!(dead.attempts >= 2 && dead.last_status_code == 503, "{dead:?}");
    let tries = inbox.lock().expect("inbox").requests;
    assert_eq!(usize::try_from(dead.attempts).expect("small"), tries, "no try after the last one recorded");

    inbox.lock().expect("inbox").up = true;
    let again = RedeliverEventRequest { event_id: dead.event_id.clone(), endpoint_id: endpoint_id.clone() };
    events_client(&app.channel).redeliver_event(authed(again, &admin())).await.expect("redeliver");
    eventually("delivered by hand", || async {
        let all = deliveries(&app.channel, &endpoint_id).await;
        all.iter().all(|d| d.status == "delivered").then_some(())
    })
    .await;
    assert_eq!(acknowledged_ids(&inbox).get(&dead.event_id), Some(&1));
    app.assert_ledger_ok();
    app.stop().await;
}

/// The console's endpoint forms go through EventService's use cases: the secret is
/// shown once, a delete needs its box ticked, the service role only reads.
async fn endpoints_are_created_disabled_and_deleted_from_the_console(db: Db) {
    let app = spawn_app_with(db, &[]).await;
    let mut client = events_client(&app.channel);
    let listed = |client: &mut EventServiceClient<Channel>| {
        let mut client = client.clone();
        async move {
            let all = client.list_event_endpoints(authed(proto::ListEventEndpointsRequest::default(), &admin())).await;
            all.expect("list").into_inner().endpoints
        }
    };
    let mut reader = WebSession::new(&app);
    sign_in(&mut reader, "svc", "role_service").await;
    let page = reader.get("/en/admin/events").await;
    assert!(!page.body.contains("new-endpoint"), "the service role gets no form");
    let csrf = hidden(&page.body, "csrf");
    let form = [("csrf", csrf.as_str()), ("url", "https://platform.example/hooks"), ("event_types", "*"), ("description", "")];
    assert_eq!(reader.post("/en/admin/events/endpoints", &form).await.status, 403);
    assert!(listed(&mut client).await.is_empty(), "the read-only role created nothing");

    let mut web = WebSession::new(&app);
    sign_in(&mut web, "ops", "role_admin").await;
    let csrf = hidden(&web.get("/ru/admin/events").await.body, "csrf");
    let bad = [("csrf", csrf.as_str()), ("url", "ftp://platform.example"), ("event_types", "*"), ("description", "")];
    let refused = web.post("/ru/admin/events/endpoints", &bad).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(listed(&mut client).await.is_empty(), "a refused form created nothing");
    let types = "payment.succeeded, refund.created";
    let good =
        [("csrf", csrf.as_str()), ("url", "https://platform.example/hooks"), ("event_types", types), ("description", "main")];
    let created = web.post("/ru/admin/events/endpoints", &good).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("только сейчас") && created.body.contains("whsec_"), "{}", created.body);
    let endpoint = listed(&mut client).await.pop().expect("created");
    assert_eq!(
        (endpoint.url.as_str(), endpoint.event_types.clone(), endpoint.enabled),
        ("https://platform.example/hooks", vec!["payment.succeeded".to_owned(), "refund.created".to_owned()], true)
    );
    assert!(!web.get("/ru/admin/events").await.body.contains("whsec_"), "the secret is shown once");

    let path = format!("/ru/admin/events/endpoints/{}", endpoint.id);
    let disabled = web.post(&path, &[("csrf", csrf.as_str()), ("action", "disable")]).await;
    assert_eq!((disabled.status, disabled.location()), (303, "/ru/admin/events"), "{}", disabled.body);
    assert!(!listed(&mut client).await[0].enabled);
    let unconfirmed = web.post(&path, &[("csrf", csrf.as_str()), ("action", "delete")]).await;
    assert_eq!(unconfirmed.status, 400, "{}", unconfirmed.body);
    assert_eq!(listed(&mut client).await.len(), 1, "an unconfirmed delete deletes nothing");
    let deleted = web.post(&path, &[("csrf", csrf.as_str()), ("action", "delete"), ("confirm", "yes")]).await;
    assert_eq!((deleted.status, deleted.location()), (303, "/ru/admin/events"), "{}", deleted.body);
    assert!(listed(&mut client).await.is_empty());
    app.assert_ledger_ok();
    app.stop().await;
}
