//! `/{locale}/admin/webhooks`: the gateways' events, newest first, a page at a
//! time; `/{locale}/admin/ledger`: the `check-ledger` invariants, run now.

use app::console_ports::WebhookEvent;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{Operator, PageQuery, Paging};
use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::routes::{InLocale, Listed, PageParams};

pub struct Event {
    pub date: String,
    pub gateway: String,
    pub kind: String,
    pub id: String,
    pub payment: Option<String>,
    pub outcome: String,
}

/// An event as a row: its error, else whether it was applied.
pub fn event(e: &WebhookEvent, locale: Locale) -> Event {
    let applied = locale.t(if e.processed { "console.processed" } else { "console.not_processed" });
    Event {
        date: locale.date(e.received_at),
        gateway: e.gateway_name.clone(),
        kind: e.event_type.clone(),
        id: e.event_id.clone(),
        payment: e.payment_id.map(|id| id.to_string()),
        outcome: e.error.clone().unwrap_or_else(|| applied.to_owned()),
    }
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    events: Vec<Event>,
    total: i64,
    newer: Option<u32>,
    older: Option<u32>,
}

pub async fn webhooks(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<PageQuery>,
    operator: Operator,
) -> Response {
    let listed = Paging::of(query.page).load(|page| pages.app.webhook_log(&operator.principal, page)).await;
    let Listed { rows: events, total, newer, older } = match listed {
        Ok(listed) => listed,
        Err(error) => return layout::app_error(locale, error),
    };
    let page = WebhooksPage {
        layout: Layout::at(locale, "console.webhooks", &operator.csrf, Some(&operator.principal), "/admin/webhooks"),
        events: events.iter().map(|e| event(e, locale)).collect(),
        total,
        newer,
        older,
    };
    layout::render(&page)
}

#[derive(Template)]
#[template(path = "admin/ledger.html")]
struct LedgerPage {
    layout: Layout,
    violations: Vec<String>,
}

pub async fn ledger(State(pages): State<Pages>, InLocale(locale): InLocale, operator: Operator) -> Response {
    let violations = match pages.app.ledger_violations(&operator.principal).await {
        Ok(violations) => violations,
        Err(error) => return layout::app_error(locale, error),
    };
    let page = LedgerPage {
        layout: Layout::at(locale, "console.ledger_check", &operator.csrf, Some(&operator.principal), "/admin/ledger"),
        violations: violations.iter().map(ToString::to_string).collect(),
    };
    layout::render(&page)
}
