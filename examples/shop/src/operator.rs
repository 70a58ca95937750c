//! The operator's page: every order, and refunds (full or partial) with the
//! service's refusal shown beside the order's form.

use std::sync::Arc;

use api::proto::EscrowStatus;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ShopError;
use crate::orders::Order;
use crate::pages::{OrderView, Shop, form_buyer, page, parse_id, see_other, visitor};

pub(crate) fn routes() -> axum::Router<Arc<Shop>> {
    axum::Router::new().route("/operator", get(page_of_orders)).route("/operator/orders/{id}/refund", post(refund))
}

#[derive(Template)]
#[template(path = "operator.html")]
struct OperatorPage {
    orders: Vec<OrderView>,
    csrf: String,
    /// The order whose refund was refused, and the service's message.
    error: Option<(Uuid, String)>,
}

async fn page_of_orders(State(shop): State<Arc<Shop>>, headers: HeaderMap) -> Result<Response, ShopError> {
    render_operator(&shop, &headers, StatusCode::OK, None).await
}

async fn render_operator(
    shop: &Shop,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<(Uuid, String)>,
) -> Result<Response, ShopError> {
    let (buyer, cookie) = visitor(headers);
    let orders = OrderView::all(&shop.service, shop.orders.list(None)).await?;
    page(status, &OperatorPage { orders, csrf: shop.csrf.token(&buyer), error }, cookie)
}

#[derive(Deserialize)]
struct RefundForm {
    csrf: String,
    #[serde(default)]
    amount: String,
    refund_key: String,
}

/// A refusal is shown beside the order's form, with the service's message.
async fn refund(
    State(shop): State<Arc<Shop>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<RefundForm>,
) -> Result<Response, ShopError> {
    form_buyer(&shop, &headers, &form.csrf)?;
    let order = shop.orders.get(parse_id(&id)?).ok_or(ShopError::NotFound("order"))?;
    match refund_order(&shop, &order, form.amount.trim(), &form.refund_key).await {
        Ok(()) => Ok(see_other("/operator")),
        Err(error) => render_operator(&shop, &headers, error.status(), Some((order.id, error.to_string()))).await,
    }
}

/// Where the order's money is decides the steps, each through the service's API,
/// checked before anything moves so a bad amount changes nothing:
/// - still in escrow: the hold is cancelled and the whole payment refunded (a part
///   left over would stay on the platform with no one to pay it to);
/// - released: the amount is first taken back from the vendor's transfer (the
///   service refunds only money still on the platform), then refunded;
/// - otherwise: refunded.
///
/// The form's key makes each step's idempotency key, so a form sent again after a
/// refused step does not take the vendor's money twice.
async fn refund_order(shop: &Shop, order: &Order, amount: &str, key: &str) -> Result<(), ShopError> {
    let key = Uuid::parse_str(key).map_err(|_| ShopError::BadForm("refund_key is not a UUID".into()))?;
    let payment = shop.service.payment(&order.payment_id).await?;
    if !amount.is_empty() && !fits(amount, &payment.amount) {
        return Err(ShopError::BadForm(format!(
            "amount: '{amount}' is not a positive amount of at most {} {}",
            payment.amount, payment.currency
        )));
    }
    match shop.service.hold(&payment.id).await? {
        Some(hold) if hold.status == i32::from(EscrowStatus::Holding) => {
            if !amount.is_empty() {
                return Err(ShopError::BadForm(
                    "amount: an order in escrow is refunded in full; a partial refund is possible after delivery".into(),
                ));
            }
            shop.service.cancel_hold(&hold.id, "refunded by the shop's operator").await?;
        }
        Some(hold) if hold.status == i32::from(EscrowStatus::Released) => {
            let transfer = shop
                .service
                .transfer_of(&order.account_id, &payment.id)
                .await?
                .ok_or(ShopError::NotFound("the vendor's transfer for this order"))?;
            shop.service.reverse(&transfer.id, amount, &format!("shop-reversal-{key}")).await?;
        }
        _ => {}
    }
    shop.service.refund(&payment.id, amount, &format!("shop-refund-{key}")).await?;
    Ok(())
}

/// Whether `amount` is a plain positive decimal no larger than `total`, with no more
/// decimals than it (the service checks again, in the currency's minor units).
fn fits(amount: &str, total: &str) -> bool {
    let decimals = total.split_once('.').map_or(0, |(_, fraction)| fraction.len());
    match (minor(amount, decimals), minor(total, decimals)) {
        (Some(amount), Some(total)) => amount > 0 && amount <= total,
        _ => false,
    }
}

fn minor(text: &str, decimals: usize) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > decimals {
        return None;
    }
    format!("{whole}{fraction:0<decimals$}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::fits;

    #[test]
    fn a_refund_amount_must_fit_the_payment() {
        assert!(fits("10", "39.90") && fits("39.90", "39.90") && fits("0.5", "39.90") && fits("1000", "1000"));
        for bad in ["0", "39.91", "1.234", "-1", "1e3", "abc", ".5", "1,5"] {
            assert!(!fits(bad, "39.90"), "{bad}");
        }
        assert!(!fits("1.5", "1000"), "RSD-like amounts have no decimals");
    }
}
