//! The shop in front of the real service (in-process, with the demo data), driven
//! over HTTP as a browser would: buy → pay on the mock page → paid → delivered → the
//! vendor has a transfer; an operator refunds a held order in full and part of a
//! delivered one (the vendor's transfer reversed first), then its rest; forms without their CSRF
//! token change nothing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;

use api::proto::connected_account_service_client::ConnectedAccountServiceClient;
use api::proto::escrow_service_client::EscrowServiceClient;
use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::transfer_service_client::TransferServiceClient;
use api::proto::{self, GetEscrowByPaymentIdRequest, GetUserPaymentsRequest, ListConnectedAccountsRequest, ListTransfersRequest};
use app::Role;
use tonic::transport::Channel;

const SECRET: &str = "shop-test-secret-of-enough-length-0123";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo.json");

struct World {
    service: server::Running,
    service_config: server::config::Config,
    shop: shop::Running,
    channel: Channel,
    http: reqwest::Client,
    /// The buyer's cookie (`shop_buyer=…`).
    cookie: String,
    csrf: String,
}

async fn start() -> World {
    let dir = std::env::temp_dir().join("vondipayment-shop-tests").join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = format!("sqlite://{}", dir.join("payments.db").display());
    let vars: BTreeMap<String, String> = [
        ("ENV", "development"),
        ("LOG_LEVEL", "warn"),
        ("DB_URL", db_url.as_str()),
        ("SERVER_GRPC_PORT", "0"),
        ("SERVER_METRICS_PORT", "0"),
        ("AUTH_JWT_SECRET", SECRET),
        ("DATA_DIR", dir.to_str().unwrap()),
        ("FIXTURES_ENABLED", "true"),
        ("FIXTURES_PATH", FIXTURES),
    ]
    .iter()
    .map(|(k, v)| (format!("VONDIPAYMENT_{k}"), (*v).to_owned()))
    .collect();
    let service_config = server::config::Config::from_vars(&vars).expect("service config");
    let service = server::start(service_config.clone()).await.expect("the service starts with the demo data");
    let service_url = format!("http://127.0.0.1:{}", service.api_addr.port());
    let shop_vars: BTreeMap<String, String> =
        [("PORT", "0"), ("SERVICE_URL", service_url.as_str()), ("JWT_SECRET", SECRET), ("CATALOGUE_PATH", FIXTURES)]
            .iter()
            .map(|(k, v)| (format!("SHOP_{k}"), (*v).to_owned()))
            .collect();
    let shop = shop::start(shop::Config::from_vars(&shop_vars).expect("shop config")).await.expect("the shop starts");
    let channel = Channel::from_shared(service_url).unwrap().connect().await.expect("gRPC connects");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let first = http.get(format!("http://{}/", shop.addr)).send().await.expect("catalogue");
    assert_eq!(first.status(), 200);
    let set_cookie = first.headers().get("set-cookie").expect("a first visit gets a cookie").to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let html = first.text().await.unwrap();
    assert!(html.contains("Libris Books") && html.contains("Programming in Rust (print)") && html.contains("Kafana Roasters"));
    let csrf = value_after(&html, "name=\"csrf\" value=\"");
    World { service, service_config, shop, channel, http, cookie, csrf }
}

/// The quoted value after `marker` in one of our pages.
fn value_after(html: &str, marker: &str) -> String {
    let start = html.find(marker).unwrap_or_else(|| panic!("{marker} not in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The path and query of an absolute URL: the pages say `localhost`, the test dials 127.0.0.1.
fn path_of(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    format!("{}{}", parsed.path(), parsed.query().map(|q| format!("?{q}")).unwrap_or_default())
}

fn admin() -> String {
    api::mint_hs256(SECRET.as_bytes(), "test-ops", &[Role::Admin, Role::Service], chrono::Duration::hours(1)).unwrap()
}

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {}", admin()).parse().unwrap());
    request
}

impl World {
    fn shop_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.shop.addr)
    }

    fn service_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.service.api_addr.port())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let answer = self.http.get(self.shop_url(path)).header("cookie", &self.cookie).send().await.expect("shop answers");
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// A form posted with the buyer's cookie; the status and Location (or the page).
    async fn post<F: serde::Serialize + ?Sized>(&self, path: &str, form: &F) -> (u16, String) {
        let answer =
            self.http.post(self.shop_url(path)).header("cookie", &self.cookie).form(form).send().await.expect("shop answers");
        let status = answer.status().as_u16();
        match answer.headers().get("location") {
            Some(location) => (status, location.to_str().unwrap().to_owned()),
            None => (status, answer.text().await.unwrap()),
        }
    }

    /// Buys `sku` of `vendor` and pays on the mock page; the order page's path.
    async fn buy_and_pay(&self, sku: &str, vendor: &str) -> String {
        let key = uuid::Uuid::new_v4().to_string();
        let (status, checkout_url) =
            self.post("/orders", &[("csrf", self.csrf.as_str()), ("sku", sku), ("order_key", key.as_str())]).await;
        assert_eq!(status, 303, "{checkout_url}");
        let page = self.http.get(self.service_url(&path_of(&checkout_url))).send().await.expect("mock page");
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert_eq!(value_after(&html, "id=\"merchant\">").split('<').next(), Some(vendor), "the vendor's name, not an id");
        let action = value_after(&html, "action=\"");
        let session_id = value_after(&html, "name=\"session_id\" value=\"");
        let paid = self
            .http
            .post(self.service_url(&action))
            .form(&[("session_id", session_id.as_str()), ("outcome", "success")])
            .send()
            .await
            .expect("mock page form");
        assert_eq!(paid.status(), 303);
        let back = paid.headers().get("location").unwrap().to_str().unwrap();
        let order = path_of(back);
        assert!(order.starts_with("/orders/"), "the gateway sends the buyer back to the order: {back}");
        order
    }

    fn buyer(&self) -> String {
        self.cookie.split_once('=').unwrap().1.to_owned()
    }

    /// The buyer's payment of `amount`, as the service has it.
    async fn payment_of(&self, amount: &str) -> proto::Payment {
        let request = GetUserPaymentsRequest { user_id: self.buyer(), limit: 100, offset: 0 };
        let payments = PaymentServiceClient::new(self.channel.clone()).get_user_payments(authed(request)).await.unwrap();
        payments.into_inner().payments.into_iter().find(|p| p.amount == amount).expect("the order's payment")
    }

    async fn hold_status(&self, payment_id: &str) -> i32 {
        let request = GetEscrowByPaymentIdRequest { payment_id: payment_id.into() };
        let hold = EscrowServiceClient::new(self.channel.clone()).get_escrow_by_payment_id(authed(request)).await.unwrap();
        hold.into_inner().escrow.unwrap().status
    }

    async fn vendor_transfers(&self, fixture: &str) -> Vec<proto::Transfer> {
        let request = ListConnectedAccountsRequest { limit: 100, ..Default::default() };
        let accounts = ConnectedAccountServiceClient::new(self.channel.clone()).list_connected_accounts(authed(request)).await;
        let account = accounts
            .unwrap()
            .into_inner()
            .accounts
            .into_iter()
            .find(|a| a.metadata.get("fixture").map(String::as_str) == Some(fixture))
            .expect("the demo vendor");
        let request = ListTransfersRequest { connected_account_id: account.id, limit: 100, offset: 0 };
        TransferServiceClient::new(self.channel.clone()).list_transfers(authed(request)).await.unwrap().into_inner().transfers
    }

    async fn stop(self) {
        self.shop.shutdown().await;
        self.service.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_pays_gets_the_goods_and_the_vendor_is_paid_an_operator_refunds_a_held_order_in_full_and_part_of_a_delivered_one()
{
    let world = start().await;

    let order = world.buy_and_pay("book-rust", "Libris Books").await;
    let (status, page) = world.get(&order).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"status\">paid<") && page.contains("Mark delivered"), "{page}");
    let payment = world.payment_of("39.90").await;
    assert!(payment.escrow_enabled);
    assert_eq!(world.hold_status(&payment.id).await, i32::from(proto::EscrowStatus::Holding));
    assert!(!world.vendor_transfers("demo-bookshop").await.iter().any(|t| t.payment_id == payment.id));

    let (status, location) = world.post(&format!("{order}/deliver"), &[("csrf", &world.csrf)]).await;
    assert_eq!((status, location.as_str()), (303, order.as_str()));
    let (_, page) = world.get(&order).await;
    assert!(page.contains("released to the vendor"), "{page}");
    let transfers = world.vendor_transfers("demo-bookshop").await;
    let transfer = transfers.iter().find(|t| t.payment_id == payment.id).expect("the vendor's transfer for the order");
    assert_eq!(transfer.amount, "35.91", "39.90 less the vendor's 10 % rule");
    assert!(page.contains("id=\"vendor-transfer\">35.91 USD<"), "{page}");
    assert!(!page.contains("payment payment"), "{page}");

    let other = world.buy_and_pay("coffee-beans", "Kafana Roasters").await;
    let other_id = other.trim_start_matches("/orders/");
    let (_, operator) = world.get("/operator").await;
    assert!(operator.contains("Single-origin beans"), "{operator}");
    let refund_form = |amount: &'static str| {
        [("csrf", world.csrf.clone()), ("amount", amount.into()), ("refund_key", uuid::Uuid::new_v4().to_string())]
    };
    let (status, page) = world.post(&format!("/operator/orders/{other_id}/refund"), &refund_form("12.345")).await;
    assert_eq!(status, 400);
    assert!(page.contains("amount: &#39;12.345&#39; is not a positive amount") || page.contains("amount: '12.345'"), "{page}");
    let coffee = world.payment_of("28.50").await;
    assert_eq!(world.hold_status(&coffee.id).await, i32::from(proto::EscrowStatus::Holding), "a bad amount changes nothing");
    // In escrow: only "cancel the hold and refund in full"; a part is refused before anything moves.
    assert!(operator.contains("Cancel the hold and refund in full") && operator.contains("id=\"acting-as\""), "{operator}");
    let (status, page) = world.post(&format!("/operator/orders/{other_id}/refund"), &refund_form("10.00")).await;
    assert_eq!(status, 400);
    assert!(page.contains("refunded in full"), "{page}");
    assert_eq!(world.hold_status(&coffee.id).await, i32::from(proto::EscrowStatus::Holding));
    let (status, location) = world.post(&format!("/operator/orders/{other_id}/refund"), &refund_form("")).await;
    assert_eq!((status, location.as_str()), (303, "/operator"));
    let coffee = world.payment_of("28.50").await;
    assert_eq!((coffee.refunded_amount.as_str(), coffee.status), ("28.50", i32::from(proto::PaymentStatus::Refunded)));
    assert_eq!(world.hold_status(&coffee.id).await, i32::from(proto::EscrowStatus::Cancelled));

    // Delivered (released): a part is taken back from the vendor's transfer, then refunded.
    let book = order.trim_start_matches("/orders/");
    let (status, location) = world.post(&format!("/operator/orders/{book}/refund"), &refund_form("10.00")).await;
    assert_eq!((status, location.as_str()), (303, "/operator"), "{location}");
    let book_payment = world.payment_of("39.90").await;
    assert_eq!(book_payment.refunded_amount, "10.00");
    let transfers = world.vendor_transfers("demo-bookshop").await;
    let transfer = transfers.iter().find(|t| t.payment_id == payment.id).expect("the transfer");
    assert_eq!(transfer.reversed_amount, "10.00");
    let (_, page) = world.get(&order).await;
    assert!(page.contains("id=\"refunded\">10.00 USD<") && page.contains("10.00 taken back"), "{page}");
    // The rest: everything the vendor still has of it, less the platform's fee.
    let (status, _) = world.post(&format!("/operator/orders/{book}/refund"), &refund_form("")).await;
    assert_eq!(status, 303);
    assert_eq!(world.payment_of("39.90").await.refunded_amount, "35.91");

    let (_, orders) = world.get("/orders").await;
    assert!(orders.contains("Programming in Rust (print)") && orders.contains("Single-origin beans, 1 kg"), "{orders}");

    let store = server::connect_store(&world.service_config).await.unwrap();
    let violations = app::ports::PaymentStore::check_ledger(&store).await.unwrap();
    store.close().await;
    assert!(violations.is_empty(), "{violations:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let world = start().await;
    let key = uuid::Uuid::new_v4().to_string();
    for csrf in ["", "00", world.csrf.as_str()] {
        let form = [("csrf", csrf), ("sku", "book-rust"), ("order_key", key.as_str())];
        let answer = world.http.post(world.shop_url("/orders")).form(&form).send().await.unwrap();
        assert_eq!(answer.status(), 403, "no cookie: the token proves nothing");
    }
    for csrf in ["", "00"] {
        let (status, page) = world.post("/orders", &[("csrf", csrf), ("sku", "book-rust"), ("order_key", &key)]).await;
        assert_eq!(status, 403);
        assert!(page.contains("not sent by this shop"), "{page}");
    }
    let (_, orders) = world.get("/orders").await;
    assert!(orders.contains("No orders yet"), "{orders}");
    let request = GetUserPaymentsRequest { user_id: world.buyer(), limit: 10, offset: 0 };
    let payments = PaymentServiceClient::new(world.channel.clone()).get_user_payments(authed(request)).await.unwrap();
    assert!(payments.into_inner().payments.is_empty(), "no checkout was made");
    world.stop().await;
}
