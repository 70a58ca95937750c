//! `/{locale}/admin/events`: the platform's event endpoints (created, disabled,
//! enabled and deleted here) and the latest deliveries, each with a button that sends
//! its event again: EventService's use cases.

use app::EndpointUpdate;
use app::events_ports::Delivery;
use app::ports::Page;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::events::DeliveryStatus;
use serde::Deserialize;

use super::{ObjectPath, Operator};
use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::routes::InLocale;
use crate::session::{CsrfForm, WithCsrf};

/// Deliveries shown: the newest events' ones.
const RECENT_DELIVERIES: i64 = 50;

pub struct EndpointRow {
    pub id: String,
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
    /// The operator may press the buttons (admins; the service role reads).
    acts: bool,
    /// A new endpoint's secret: shown once, right after it was created.
    secret: Option<String>,
}

pub async fn list(State(pages): State<Pages>, InLocale(locale): InLocale, operator: Operator) -> Response {
    render(&pages, locale, &operator, None).await
}

async fn render(pages: &Pages, locale: Locale, operator: &Operator, secret: Option<String>) -> Response {
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
            .map(|e| EndpointRow {
                id: e.id.to_string(),
                url: e.url,
                types: e.subscription.types().join(", "),
                enabled: e.enabled,
            })
            .collect(),
        deliveries: deliveries.iter().map(|d| row(d, locale)).collect(),
        acts: operator.acts,
        secret,
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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndpointForm {
    csrf: String,
    url: String,
    /// Comma- or space-separated types; `*` is every type.
    event_types: String,
    description: String,
}

impl WithCsrf for EndpointForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Creates an endpoint and shows its secret, this once.
pub async fn create(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    operator: Operator,
    CsrfForm(form): CsrfForm<EndpointForm>,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    let types: Vec<String> =
        form.event_types.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    match pages.app.create_event_endpoint(&operator.principal, &form.url, &form.description, &types).await {
        Ok(endpoint) => render(&pages, locale, &operator, Some(endpoint.secret.expose().to_owned())).await,
        Err(error) => layout::app_error(locale, error),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EndpointActionForm {
    csrf: String,
    /// `enable`, `disable` or `delete`.
    action: String,
    /// `yes` when the operator ticked the box that confirms a delete.
    confirm: String,
}

impl WithCsrf for EndpointActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Disables, enables or (confirmed) deletes an endpoint.
pub async fn act(
    State(pages): State<Pages>,
    ObjectPath { locale, id }: ObjectPath,
    operator: Operator,
    CsrfForm(form): CsrfForm<EndpointActionForm>,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    let me = &operator.principal;
    let done = match (form.action.as_str(), form.confirm.as_str()) {
        ("delete", "yes") => pages.app.delete_event_endpoint(me, &id).await,
        ("delete", _) => return layout::error_page(locale, StatusCode::BAD_REQUEST, "console.endpoint_delete_unconfirmed"),
        (action @ ("enable" | "disable"), _) => {
            let update = EndpointUpdate { enabled: Some(action == "enable"), ..EndpointUpdate::default() };
            pages.app.update_event_endpoint(me, &id, update).await.map(|_| ())
        }
        _ => return layout::error_page(locale, StatusCode::BAD_REQUEST, "console.endpoint_unknown_action"),
    };
    match done {
        Ok(()) => Redirect::to(&format!("/{}/admin/events", locale.code())).into_response(),
        Err(error) => layout::app_error(locale, error),
    }
}
