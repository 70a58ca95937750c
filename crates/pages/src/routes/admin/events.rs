//! `/{locale}/admin/events`: the platform's event endpoints and the latest
//! deliveries, each with a button that sends its event again (EventService's
//! RedeliverEvent use case).

use app::events_ports::Delivery;
use app::ports::Page;
use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use domain::events::DeliveryStatus;
use serde::Deserialize;

use super::Operator;
use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::routes::InLocale;
use crate::session::{CsrfForm, WithCsrf};

/// Deliveries shown: the newest events' ones.
const RECENT_DELIVERIES: i64 = 50;

pub struct EndpointRow {
    pub url: String,
    pub types: String,
    pub enabled: bool,
}

pub struct DeliveryRow {
    pub event_id: String,
    pub endpoint_id: String,
    pub event_type: String,
    /// The status's translation key.
    pub status: &'static str,
    pub attempts: i64,
    pub when: String,
    pub last_error: String,
}

fn row(d: &Delivery, locale: Locale) -> DeliveryRow {
    DeliveryRow {
        event_id: d.event_id.to_string(),
        endpoint_id: d.endpoint_id.to_string(),
        event_type: d.event_type.as_str().to_owned(),
        status: match d.status {
            DeliveryStatus::Pending => "console.delivery_pending",
            DeliveryStatus::Delivered => "console.delivery_delivered",
            DeliveryStatus::Dead => "console.delivery_dead",
        },
        attempts: d.attempts,
        when: locale.date(d.delivered_at.unwrap_or(d.next_attempt_at)),
        last_error: d.last_error.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "admin/platform_events.html")]
struct EventsPage {
    layout: Layout,
    endpoints: Vec<EndpointRow>,
    deliveries: Vec<DeliveryRow>,
    /// The operator may press the redeliver buttons (admins; the service role reads).
    acts: bool,
}

pub async fn list(State(pages): State<Pages>, InLocale(locale): InLocale, operator: Operator) -> Response {
    let me = &operator.principal;
    let (all_endpoints, recent) = (Page { limit: app::PAGE_LIMIT_MAX, offset: 0 }, Page { limit: RECENT_DELIVERIES, offset: 0 });
    let found = match pages.app.event_endpoints(me, all_endpoints).await {
        Ok((endpoints, _)) => pages.app.event_deliveries(me, "", recent).await.map(|(deliveries, _)| (endpoints, deliveries)),
        Err(error) => Err(error),
    };
    let (endpoints, deliveries) = match found {
        Ok(found) => found,
        Err(error) => return layout::app_error(locale, error),
    };
    let page = EventsPage {
        layout: Layout::at(locale, "console.platform_events", &operator.csrf, Some(me), "/admin/events"),
        endpoints: endpoints
            .into_iter()
            .map(|e| EndpointRow { url: e.url, types: e.subscription.types().join(", "), enabled: e.enabled })
            .collect(),
        deliveries: deliveries.iter().map(|d| row(d, locale)).collect(),
        acts: operator.acts,
    };
    layout::render(&page)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RedeliverForm {
    csrf: String,
    event_id: String,
    endpoint_id: String,
}

impl WithCsrf for RedeliverForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn redeliver(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    operator: Operator,
    CsrfForm(form): CsrfForm<RedeliverForm>,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    match pages.app.redeliver_event(&operator.principal, &form.event_id, &form.endpoint_id).await {
        Ok(_) => Redirect::to(&format!("/{}/admin/events", locale.code())).into_response(),
        Err(error) => layout::app_error(locale, error),
    }
}
