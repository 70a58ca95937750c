//! `vondipayment demo`: the README's first payment, run against a running service and
//! printed step by step (token → checkout → pay → verify → ledger), so that a new user
//! sees the whole path work before writing a client of their own.

use api::proto::payment_service_client::PaymentServiceClient;
use api::proto::{CreateCheckoutSessionRequest, GetPaymentRequest, PaymentStatus, PaymentType};
use app::Role;
use app::ports::PaymentStore;
use tonic::transport::Channel;

use crate::BoxError;
use crate::config::Config;

/// The buyer the demo pays as, and what it buys.
const BUYER: &str = "demo-user";
const AMOUNT: &str = "10.00";
const CURRENCY: &str = "USD";
const SUCCESS_URL: &str = "https://shop.example/ok?session={CHECKOUT_SESSION_ID}";
const CANCEL_URL: &str = "https://shop.example/cancel";
/// A stuck service fails the demo instead of hanging it.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs the walk-through against the service at `url`; the token and the ledger
/// check use `config`, which must be the service's own settings.
pub async fn run(config: &Config, url: &str) -> Result<(), BoxError> {
    gateways::install_crypto_provider();
    let mut payments = PaymentServiceClient::new(connect(url).await?);

    let secret = crate::secrets::hs256_secret(config)?;
    let token = api::mint_hs256(&secret, BUYER, &[Role::User], chrono::Duration::hours(1))?;
    println!("1. token     minted a development JWT for {BUYER} (role user, valid 1h), as `token --sub {BUYER}` does");

    let idempotency_key = format!("demo-{}", chrono::Utc::now().timestamp_micros());
    let request = CreateCheckoutSessionRequest {
        user_id: BUYER.into(),
        amount: AMOUNT.into(),
        currency: CURRENCY.into(),
        payment_type: PaymentType::ProductB2c.into(),
        success_url: SUCCESS_URL.into(),
        cancel_url: CANCEL_URL.into(),
        gateway_name: "mock".into(),
        idempotency_key: idempotency_key.clone(),
        ..Default::default()
    };
    let created = payments
        .create_checkout_session(authorized(request, &token))
        .await
        .map_err(|status| refused("CreateCheckoutSession", url, status))?
        .into_inner();
    println!(
        "2. checkout  CreateCheckoutSession {AMOUNT} {CURRENCY} (idempotency_key {idempotency_key}): payment {}, session {}, {}",
        created.payment_id,
        created.session_id,
        status_name(created.status)
    );
    println!("              checkout page: {}", created.checkout_url);

    let redirect = pay_on_mock_page(&created.checkout_url).await?;
    println!("3. pay       pressed \"Pay\" on that page: 303 redirect to {redirect}");

    let request = GetPaymentRequest { payment_id: created.payment_id.clone() };
    let payment = payments
        .get_payment(authorized(request, &token))
        .await
        .map_err(|status| refused("GetPayment", url, status))?
        .into_inner()
        .payment
        .ok_or("GetPayment answered without a payment")?;
    if payment.status != i32::from(PaymentStatus::Succeeded) {
        return Err(format!("payment {} is {}, not PAYMENT_STATUS_SUCCEEDED", payment.id, status_name(payment.status)).into());
    }
    let paid_at = payment.paid_at.map(|t| t.to_string()).unwrap_or_default();
    println!("4. verify    GetPayment {}: {}, paid at {paid_at}", payment.id, status_name(payment.status));

    let where_ = crate::database_location(config.db_url.expose());
    let violations = check_ledger(config, &payment.id).await?;
    if !violations.is_empty() {
        for violation in &violations {
            println!("   violation: {violation}");
        }
        return Err(format!("the ledger at {where_} is broken: {} violation(s)", violations.len()).into());
    }
    println!("5. ledger    check-ledger on {where_}: every entry balances, balances match their postings, nothing is negative");
    println!("done: payment {} of {AMOUNT} {CURRENCY} is paid and in the ledger", payment.id);
    Ok(())
}

async fn connect(url: &str) -> Result<Channel, BoxError> {
    let endpoint = Channel::from_shared(url.to_owned()).map_err(|e| format!("--url {url}: {e}"))?;
    endpoint
        .connect_timeout(CALL_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .connect()
        .await
        .map_err(|_| format!("cannot reach the service at {url}: is it running? start it with `cargo run`").into())
}

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A failed call, said in terms of what the user can do about it.
fn refused(method: &str, url: &str, status: tonic::Status) -> BoxError {
    match status.code() {
        tonic::Code::Unavailable => {
            format!(
                "{method}: the service at {url} does not answer ({}): is it running? start it with `cargo run`",
                status.message()
            )
        }
        tonic::Code::Unauthenticated => format!(
            "{method}: the service refused the demo's token ({}): run the demo with the service's settings \
             (the same directory, or the same VONDIPAYMENT_AUTH_JWT_SECRET)",
            status.message()
        ),
        code => format!("{method} failed: {code:?}: {}", status.message()),
    }
    .into()
}

fn status_name(status: i32) -> &'static str {
    PaymentStatus::try_from(status).map_or("an unknown status", |s| s.as_str_name())
}

/// Loads the mock checkout page and submits its success button, as a browser would;
/// returns where the page redirected to.
async fn pay_on_mock_page(checkout_url: &str) -> Result<String, BoxError> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(CALL_TIMEOUT).build()?;
    let page_url = reqwest::Url::parse(checkout_url).map_err(|e| format!("checkout_url {checkout_url}: {e}"))?;
    let page = http.get(page_url.clone()).send().await.map_err(|e| format!("cannot load the checkout page {page_url}: {e}"))?;
    if !page.status().is_success() {
        return Err(format!("the checkout page {page_url} answered {}", page.status()).into());
    }
    let html = page.text().await?;
    let (Some(action), Some(session_id)) = (attribute(&html, "action=\""), attribute(&html, "name=\"session_id\" value=\""))
    else {
        return Err(format!("the checkout page {page_url} has no payment form (was the payment already completed?)").into());
    };
    let action = page_url.join(&action)?;
    let answer = http
        .post(action.clone())
        .form(&[("session_id", session_id.as_str()), ("outcome", "success")])
        .send()
        .await
        .map_err(|e| format!("cannot submit the payment form to {action}: {e}"))?;
    let location = answer.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match (answer.status().as_u16(), location) {
        (303, Some(location)) => Ok(location),
        (status, _) => {
            Err(format!("the payment form at {action} answered {status}: {}", answer.text().await.unwrap_or_default()).into())
        }
    }
}

/// The quoted value that follows `marker` in `html`: our own page, whose values (a
/// path and a session id) need no unescaping.
fn attribute(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let length = html[start..].find('"')?;
    Some(html[start..start + length].to_owned())
}

/// The same check as `check-ledger`, on the configured database, after making sure
/// it is the service's database (the demo's payment must be there).
async fn check_ledger(config: &Config, payment_id: &str) -> Result<Vec<domain::ledger::LedgerViolation>, BoxError> {
    let store = crate::connect_store(config).await?;
    let id = domain::payment::parse_uuid("payment_id", payment_id)?;
    let found = store.payment(id).await;
    let violations = store.check_ledger().await;
    store.close().await;
    if found?.is_none() {
        return Err(format!(
            "payment {payment_id} is not in the database at {}: run the demo with the service's VONDIPAYMENT_DB_URL",
            crate::database_location(config.db_url.expose())
        )
        .into());
    }
    Ok(violations?)
}
