//! The shop's pages (askama templates under `templates/`) and their forms.

use std::sync::Arc;

use api::proto::{self, CreateCheckoutSessionRequest, EscrowStatus, PaymentStatus};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use crate::catalogue::{Catalogue, Vendor};
use crate::csrf::{self, Csrf};
use crate::error::ShopError;
use crate::orders::{Order, Orders};
use crate::service::Service;

/// Days an order's payment stays in escrow unless it is marked delivered.
const ESCROW_HOLD_DAYS: i32 = 14;

pub struct Shop {
    pub catalogue: Catalogue,
    pub orders: Orders,
    pub service: Service,
    pub csrf: Csrf,
    /// Where the gateway sends buyers back.
    pub public_url: String,
}

pub fn router(shop: Arc<Shop>) -> axum::Router {
    axum::Router::new()
        .route("/", get(catalogue))
        .route("/orders", get(my_orders).post(buy))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/deliver", post(deliver))
        .merge(crate::operator::routes())
        .with_state(shop)
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub message: String,
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage<'a> {
    vendors: &'a [Vendor],
    csrf: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    orders: Vec<OrderView>,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    view: OrderView,
    csrf: String,
}

/// A fresh key for a form: sent twice, the form still makes one order or refund.
pub(crate) fn new_key() -> String {
    Uuid::new_v4().to_string()
}

/// An order with its money side, as the service reports it.
pub(crate) struct OrderView {
    pub(crate) order: Order,
    /// A CSS class: awaiting, paid, failed, cancelled, refunded, released.
    pub(crate) state: &'static str,
    pub(crate) status: &'static str,
    pub(crate) awaiting: bool,
    pub(crate) hold: Option<String>,
    pub(crate) can_deliver: bool,
    /// Still in escrow: the operator's refund cancels the hold and refunds in full.
    pub(crate) held: bool,
    /// What the vendor's transfer paid, once the escrow was released.
    pub(crate) paid_to_vendor: Option<String>,
    pub(crate) refunded: String,
}

impl OrderView {
    async fn of(service: &Service, order: Order) -> Result<Self, ShopError> {
        let payment = service.payment(&order.payment_id).await?;
        let (state, status) = match PaymentStatus::try_from(payment.status) {
            Ok(PaymentStatus::Succeeded) => ("paid", "paid"),
            Ok(PaymentStatus::Failed) => ("failed", "failed"),
            Ok(PaymentStatus::Cancelled) => ("cancelled", "cancelled"),
            Ok(PaymentStatus::Refunded) => ("refunded", "refunded"),
            _ => ("awaiting", "awaiting payment"),
        };
        let paid = matches!(state, "paid" | "refunded");
        let hold = if paid && payment.escrow_enabled { service.hold(&payment.id).await? } else { None };
        let holding = hold.as_ref().is_some_and(|h| h.status == i32::from(EscrowStatus::Holding));
        let released = hold.as_ref().is_some_and(|h| h.status == i32::from(EscrowStatus::Released));
        let refunded = if is_zero(&payment.refunded_amount) { String::new() } else { payment.refunded_amount.clone() };
        let transfer = if released { service.transfer_of(&order.account_id, &payment.id).await? } else { None };
        Ok(Self {
            paid_to_vendor: transfer.as_ref().map(describe_transfer),
            held: holding,
            order,
            state: if released { "released" } else { state },
            status,
            awaiting: state == "awaiting",
            hold: hold.as_ref().map(describe_hold),
            can_deliver: holding && state == "paid",
            refunded,
        })
    }

    pub(crate) async fn all(service: &Service, orders: Vec<Order>) -> Result<Vec<Self>, ShopError> {
        let mut views = Vec::with_capacity(orders.len());
        for order in orders {
            views.push(Self::of(service, order).await?);
        }
        Ok(views)
    }
}

fn describe_hold(hold: &proto::EscrowHold) -> String {
    match EscrowStatus::try_from(hold.status) {
        Ok(EscrowStatus::Holding) => {
            let until = hold.hold_until.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0));
            until.map_or("held".into(), |t| format!("held until {}", t.format("%Y-%m-%d")))
        }
        Ok(EscrowStatus::Released) => "delivered: released to the vendor".into(),
        Ok(EscrowStatus::Cancelled) => "cancelled: the vendor is not paid".into(),
        _ => "unknown".into(),
    }
}

fn describe_transfer(transfer: &proto::Transfer) -> String {
    let paid = format!("{} {}", transfer.amount, transfer.currency);
    if is_zero(&transfer.reversed_amount) { paid } else { format!("{paid} ({} taken back)", transfer.reversed_amount) }
}

fn is_zero(amount: &str) -> bool {
    amount.is_empty() || amount.chars().all(|c| c == '0' || c == '.')
}

/// The visitor's buyer id, and the cookie to set when this is a first visit.
pub(crate) fn visitor(headers: &HeaderMap) -> (String, Option<String>) {
    match csrf::buyer(headers) {
        Some(buyer) => (buyer, None),
        None => {
            let buyer = csrf::new_buyer();
            let cookie = csrf::set_cookie(&buyer);
            (buyer, Some(cookie))
        }
    }
}

pub(crate) fn page(status: StatusCode, template: &impl Template, cookie: Option<String>) -> Result<Response, ShopError> {
    let html = Html(template.render()?);
    Ok(match cookie {
        Some(cookie) => (status, [(SET_COOKIE, cookie)], html).into_response(),
        None => (status, html).into_response(),
    })
}

pub(crate) fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}

/// The buyer of a form, when its CSRF token is this shop's for that buyer's cookie.
pub(crate) fn form_buyer(shop: &Shop, headers: &HeaderMap, token: &str) -> Result<String, ShopError> {
    csrf::buyer(headers).filter(|buyer| shop.csrf.verify(buyer, token)).ok_or(ShopError::Csrf)
}

pub(crate) fn parse_id(id: &str) -> Result<Uuid, ShopError> {
    Uuid::parse_str(id).map_err(|_| ShopError::NotFound("order"))
}

/// An order of this buyer; another's is not found, like an absent one.
fn buyer_order(shop: &Shop, buyer: &str, id: &str) -> Result<Order, ShopError> {
    shop.orders.get(parse_id(id)?).filter(|o| o.buyer == buyer).ok_or(ShopError::NotFound("order"))
}

async fn catalogue(State(shop): State<Arc<Shop>>, headers: HeaderMap) -> Result<Response, ShopError> {
    let (buyer, cookie) = visitor(&headers);
    page(StatusCode::OK, &CataloguePage { vendors: &shop.catalogue.vendors, csrf: shop.csrf.token(&buyer) }, cookie)
}

async fn my_orders(State(shop): State<Arc<Shop>>, headers: HeaderMap) -> Result<Response, ShopError> {
    let (buyer, cookie) = visitor(&headers);
    let orders = OrderView::all(&shop.service, shop.orders.list(Some(&buyer))).await?;
    page(StatusCode::OK, &OrdersPage { orders }, cookie)
}

async fn order(State(shop): State<Arc<Shop>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ShopError> {
    let (buyer, cookie) = visitor(&headers);
    let view = OrderView::of(&shop.service, buyer_order(&shop, &buyer, &id)?).await?;
    page(StatusCode::OK, &OrderPage { view, csrf: shop.csrf.token(&buyer) }, cookie)
}

#[derive(Deserialize)]
struct BuyForm {
    csrf: String,
    sku: String,
    order_key: String,
}

/// A checkout with escrow for the vendor, then the gateway's page.
async fn buy(State(shop): State<Arc<Shop>>, headers: HeaderMap, Form(form): Form<BuyForm>) -> Result<Response, ShopError> {
    let buyer = form_buyer(&shop, &headers, &form.csrf)?;
    let id = Uuid::parse_str(&form.order_key).map_err(|_| ShopError::BadForm("order_key is not a UUID".into()))?;
    if let Some(existing) = shop.orders.get(id).filter(|o| o.buyer == buyer) {
        return Ok(see_other(&existing.checkout_url));
    }
    let (vendor, product) = shop
        .catalogue
        .product(&form.sku)
        .ok_or_else(|| ShopError::BadForm(format!("sku '{}' is not in the catalogue", form.sku)))?;
    let account = shop.catalogue.account(&shop.service, vendor).await?;
    let order_url = format!("{}/orders/{id}", shop.public_url);
    let request = CreateCheckoutSessionRequest {
        user_id: buyer.clone(),
        buyer_id: buyer.clone(),
        amount: product.price.clone(),
        currency: product.currency.clone(),
        payment_type: proto::PaymentType::ProductB2c.into(),
        success_url: order_url.clone(),
        cancel_url: order_url,
        escrow_enabled: true,
        escrow_hold_days: ESCROW_HOLD_DAYS,
        merchant_id: account.clone(),
        idempotency_key: format!("shop-order-{id}"),
        metadata: [
            ("description".to_owned(), format!("{} from {}", product.name, vendor.name)),
            ("order_id".to_owned(), id.to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let session = shop.service.checkout(request).await?;
    shop.orders.add(Order {
        id,
        buyer,
        vendor: vendor.name.clone(),
        account_id: account,
        product: product.name.clone(),
        price: product.price.clone(),
        currency: product.currency.clone(),
        payment_id: session.payment_id,
        checkout_url: session.checkout_url.clone(),
        created_at: chrono::Utc::now(),
    });
    Ok(see_other(&session.checkout_url))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The buyer received the goods: the escrow is released and the vendor paid.
async fn deliver(
    State(shop): State<Arc<Shop>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ShopError> {
    let buyer = form_buyer(&shop, &headers, &form.csrf)?;
    let order = buyer_order(&shop, &buyer, &id)?;
    let hold = shop.service.hold(&order.payment_id).await?.ok_or(ShopError::BadForm("the order is not paid yet".into()))?;
    if hold.status == i32::from(EscrowStatus::Holding) {
        shop.service.release(&hold.id).await?;
    }
    Ok(see_other(&format!("/orders/{}", order.id)))
}
