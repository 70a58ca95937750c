//! Checks that span several parameters (the tables in `params` look at one at a time).
//! Like table checks they run before anything executes, so they are not stored under
//! the idempotency key.

use crate::errors::ApiError;
use crate::form::Form;
use crate::params::AMOUNT_MAX;
use crate::routes::Route;

/// Stripe's window for a Checkout Session's `expires_at`, from creation.
const SESSION_EXPIRY_MIN_S: i64 = 30 * 60;
const SESSION_EXPIRY_MAX_S: i64 = 24 * 60 * 60;
/// Slack for the time a request spends between the client's clock read and ours.
const CLOCK_SLACK_S: i64 = 60;

pub(crate) fn check(route: &Route, form: &Form, now: i64) -> Result<(), ApiError> {
    match route {
        Route::CreateSession => checkout_session(form, now),
        Route::CreateRefund if form.get("payment_intent").is_none() && form.get("charge").is_none() => {
            Err(ApiError::invalid("One of the following params should be provided for this request: payment_intent or charge.")
                .param("payment_intent"))
        }
        _ => Ok(()),
    }
}

fn checkout_session(form: &Form, now: i64) -> Result<(), ApiError> {
    if form.get("mode") != Some("payment") {
        return Err(ApiError::invalid("fake-stripe supports only mode=payment Checkout Sessions.").param("mode"));
    }
    let mut currency: Option<&str> = None;
    let mut total: i64 = 0;
    for index in form.indices("line_items") {
        let item = format!("line_items[{index}]");
        if form.has(&format!("{item}[price]")) {
            return Err(
                ApiError::invalid("fake-stripe supports only inline price_data line items.").param(format!("{item}[price]"))
            );
        }
        let price = format!("{item}[price_data]");
        if !form.has(&price) {
            return Err(ApiError::missing_param(&price));
        }
        let item_currency =
            form.get(&format!("{price}[currency]")).ok_or_else(|| ApiError::missing_param(&format!("{price}[currency]")))?;
        if form.get(&format!("{price}[unit_amount]")).is_none() {
            return Err(ApiError::missing_param(&format!("{price}[unit_amount]")));
        }
        if form.get(&format!("{price}[product]")).is_none() && form.get(&format!("{price}[product_data][name]")).is_none() {
            return Err(ApiError::missing_param(&format!("{price}[product_data][name]")));
        }
        if form.get(&format!("{item}[quantity]")).is_none() {
            return Err(
                ApiError::invalid(format!("Quantity is required. Add `quantity` to `{item}`")).param(format!("{item}[quantity]"))
            );
        }
        let unit_amount = form.int(&format!("{price}[unit_amount]")).unwrap_or(0);
        let quantity = form.int(&format!("{item}[quantity]")).unwrap_or(1);
        total = total.saturating_add(unit_amount.saturating_mul(quantity));
        match currency {
            Some(first) if first != item_currency => {
                return Err(ApiError::invalid("All line items must use the same currency.").param(format!("{price}[currency]")));
            }
            _ => currency = Some(item_currency),
        }
    }
    if total > AMOUNT_MAX {
        return Err(ApiError::invalid(format!(
            "The Checkout Session's total amount due must be no more than {AMOUNT_MAX} (minor units)."
        ))
        .code("amount_too_large")
        .param("line_items"));
    }
    if let Some(given) = form.get("currency")
        && currency.is_some_and(|c| c != given)
    {
        return Err(ApiError::invalid("currency must match the line items' currency.").param("currency"));
    }
    if let Some(expires_at) = form.int("expires_at") {
        let ahead = expires_at - now;
        if ahead < SESSION_EXPIRY_MIN_S - CLOCK_SLACK_S {
            return Err(ApiError::invalid(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
            )
            .param("expires_at"));
        }
        if ahead > SESSION_EXPIRY_MAX_S {
            return Err(ApiError::invalid(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            )
            .param("expires_at"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::decode;

    const NOW: i64 = 1_700_000_000;
    const ITEM: &str = "mode=payment&success_url=u&line_items[0][price_data][currency]=eur&line_items[0][price_data][unit_amount]=500\
                        &line_items[0][price_data][product_data][name]=Lamp&line_items[0][quantity]=2";

    fn param(route: &Route, body: &str) -> Option<String> {
        check(route, &Form(decode(body)), NOW).err().map(|e| e.param.unwrap_or_default())
    }

    #[test]
    fn checkout_sessions_need_complete_inline_line_items() {
        let cases: &[(String, Option<&str>)] = &[
            (ITEM.to_string(), None),
            (ITEM.replace("mode=payment", "mode=setup"), Some("mode")),
            (ITEM.replace("&line_items[0][quantity]=2", ""), Some("line_items[0][quantity]")),
            (ITEM.replace("[product_data][name]=Lamp", "[product]=prod_1"), None),
            (format!("{ITEM}&line_items[1][price]=price_1"), Some("line_items[1][price]")),
            (format!("{ITEM}&line_items[1][quantity]=1"), Some("line_items[1][price_data]")),
            (format!("{ITEM}&currency=usd"), Some("currency")),
            (ITEM.replace("[quantity]=2", "[quantity]=99999999"), Some("line_items")),
            (format!("{ITEM}&expires_at={}", NOW + 600), Some("expires_at")),
            (format!("{ITEM}&expires_at={}", NOW + 90_000), Some("expires_at")),
            (format!("{ITEM}&expires_at={}", NOW + 1800), None),
        ];
        for (body, expected) in cases {
            assert_eq!(param(&Route::CreateSession, body).as_deref(), *expected, "{body}");
        }
    }

    #[test]
    fn a_refund_needs_a_payment_intent_or_a_charge() {
        assert_eq!(param(&Route::CreateRefund, "amount=1").as_deref(), Some("payment_intent"));
        assert_eq!(param(&Route::CreateRefund, "charge=ch_1"), None);
    }
}
