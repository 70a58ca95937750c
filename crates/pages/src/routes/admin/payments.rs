//! `/{locale}/admin` (payments, filtered and paged) and
//! `/{locale}/admin/payments/{id}`: the payment with its ledger entries, escrow
//! hold, refunds, disputes and gateway events, and the admin's refund, release,
//! cancel and closing of a dispute by hand.

use app::CloseDispute;
use app::console_ports::PaymentFilter;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::disputes::DisputeStatus;
use domain::escrow::EscrowStatus;
use domain::payment::{Payment, PaymentStatus};
use serde::Deserialize;

use super::log::{Event, event};
use super::{ObjectPath, Operator, Paging};
use crate::Pages;
use crate::forms::{FieldErrors, new_key};
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::routes::{InLocale, PageParams};
use crate::session::{CsrfForm, WithCsrf};

const STATUSES: [&str; 6] = ["pending", "processing", "succeeded", "failed", "cancelled", "refunded"];
/// What an action asks the detail page to say (`?notice=`), and its text.
const NOTICES: [(&str, &str); 4] = [
    ("refunded", "console.refunded"),
    ("released", "console.released"),
    ("cancelled", "console.escrow_cancelled"),
    ("dispute_closed", "console.dispute_closed"),
];

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    gateway: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: Option<u32>,
}

impl ListQuery {
    /// The filters as a query string, for the pager's links.
    fn filters(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("user", &self.user),
            ("gateway", &self.gateway),
            ("from", &self.from),
            ("until", &self.until),
        ];
        pairs
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| {
                format!("&{name}={}", percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC))
            })
            .collect()
    }
}

pub struct Row {
    pub id: String,
    pub date: String,
    pub user: String,
    pub gateway: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "admin/payments.html")]
struct ListPage {
    layout: Layout,
    /// Each text filter: name, label key, input type, value.
    inputs: Vec<(&'static str, &'static str, &'static str, String)>,
    statuses: Vec<(&'static str, &'static str, bool)>,
    /// The gateways this service knows, and whether each is the chosen filter.
    gateways: Vec<(String, bool)>,
    errors: FieldErrors,
    rows: Vec<Row>,
    total: i64,
    filters: String,
    newer: Option<u32>,
    older: Option<u32>,
}

pub async fn list(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<ListQuery>,
    operator: Operator,
) -> Response {
    let paging = Paging::of(query.page);
    let wanted = async {
        let filter = PaymentFilter::parse(&query.status, &query.user, &query.gateway, &query.from, &query.until)?;
        pages.app.filtered_payments(&operator.principal, &filter, paging.page()?).await
    };
    let (found, errors) = match wanted.await {
        Ok(found) => (found, FieldErrors::default()),
        Err(error @ app::AppError::InvalidArgument(_)) => {
            ((Vec::new(), 0), FieldErrors::from_app(error, locale, "form", &[("user_id", "user")]))
        }
        Err(error) => return layout::app_error(locale, error),
    };
    let (payments, total) = found;
    let (newer, older) = paging.links(payments.len(), total);
    let status = if errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = ListPage {
        layout: Layout::at(locale, "console.payments", &operator.csrf, Some(&operator.principal), "/admin"),
        statuses: STATUSES.iter().map(|s| (*s, status_text(locale, s), *s == query.status)).collect(),
        gateways: crate::forms::options(pages.app.gateway_names(), &query.gateway),
        rows: payments.iter().map(|p| row(p, locale)).collect(),
        filters: query.filters(),
        newer,
        older,
        inputs: vec![
            ("user", "console.user", "text", query.user),
            ("from", "console.from", "date", query.from),
            ("until", "console.until", "date", query.until),
        ],
        errors,
        total,
    };
    layout::render_with(status, &page)
}

fn status_text(locale: Locale, status: &str) -> &'static str {
    locale.t(&format!("console.status.{status}"))
}

fn row(payment: &Payment, locale: Locale) -> Row {
    Row {
        id: payment.id.to_string(),
        date: locale.date(payment.created_at),
        user: payment.user_id.clone(),
        gateway: payment.gateway_name.clone(),
        status: payment.status.as_str(),
        status_text: status_text(locale, payment.status.as_str()),
        amount: money::format(payment.amount, locale),
    }
}

/// A payment has a dispute or two; more than this is not a page's business.
const DISPUTES_SHOWN: app::ports::Page = app::ports::Page { limit: 20, offset: 0 };

pub struct Line {
    pub date: String,
    pub kind: &'static str,
    pub object: String,
    pub account: String,
    pub amount: String,
    pub credit: bool,
}

pub struct Hold {
    pub id: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub amount: String,
    pub until: String,
    pub holding: bool,
}

pub struct RefundRow {
    pub date: String,
    pub amount: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "admin/payment.html")]
struct DetailPage {
    layout: Layout,
    acts: bool,
    notice: Option<&'static str>,
    errors: FieldErrors,
    id: String,
    row: Row,
    refunded: String,
    refundable: bool,
    refund_key: String,
    close_key: String,
    hold: Option<Hold>,
    refunds: Vec<RefundRow>,
    disputes: Vec<super::disputes::DisputeRow>,
    lines: Vec<Line>,
    events: Vec<Event>,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    notice: String,
}

pub async fn detail(
    State(pages): State<Pages>,
    ObjectPath { locale, id }: ObjectPath,
    PageParams(query): PageParams<DetailQuery>,
    operator: Operator,
) -> Response {
    let notice = NOTICES.into_iter().find(|(name, _)| *name == query.notice).map(|(_, key)| key);
    render(&pages, locale, &operator, &id, notice, FieldErrors::default()).await
}

async fn render(
    pages: &Pages,
    locale: Locale,
    operator: &Operator,
    id: &str,
    notice: Option<&'static str>,
    errors: FieldErrors,
) -> Response {
    let (app, me) = (&pages.app, &operator.principal);
    let wanted = async {
        let payment = app.payment(me, id).await?;
        let hold = match app.escrow_by_payment(me, id).await {
            Ok(hold) => Some(hold),
            Err(app::AppError::NotFound(_)) => None,
            Err(error) => return Err(error),
        };
        Ok((
            payment,
            hold,
            app.payment_refunds(me, id).await?,
            app.disputes(me, id, None, DISPUTES_SHOWN).await?.0,
            app.payment_ledger(me, id).await?,
            app.payment_webhooks(me, id).await?,
        ))
    };
    let (payment, hold, refunds, disputes, lines, events) = match wanted.await {
        Ok(found) => found,
        Err(error) => return layout::app_error(locale, error),
    };
    let status = if errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = DetailPage {
        layout: Layout::at(locale, "console.payment", &operator.csrf, Some(me), &format!("/admin/payments/{id}")),
        acts: operator.acts,
        notice,
        errors,
        id: payment.id.to_string(),
        refunded: money::format(domain::Money::from_minor(payment.refunded_minor, payment.amount.currency()), locale),
        refundable: payment.status == PaymentStatus::Succeeded && payment.refunded_minor < payment.amount.minor(),
        refund_key: new_key(),
        close_key: new_key(),
        hold: hold.map(|h| Hold {
            id: h.id.to_string(),
            status: h.status.as_str(),
            status_text: locale.t(&format!("console.escrow.{}", h.status.as_str())),
            amount: money::format(h.amount, locale),
            until: locale.date(h.hold_until),
            holding: h.status == EscrowStatus::Holding,
        }),
        refunds: refunds
            .iter()
            .map(|r| RefundRow {
                date: locale.date(r.created_at),
                amount: money::format(r.amount, locale),
                status: r.status.as_str(),
                status_text: locale.t(&format!("console.refund.{}", r.status.as_str())),
                reason: r.reason.clone(),
            })
            .collect(),
        disputes: disputes.iter().map(|d| super::disputes::row(d, locale)).collect(),
        lines: lines
            .iter()
            .map(|l| Line {
                date: locale.date(l.created_at),
                kind: locale.t(&format!("console.entry.{}", l.entry_kind)),
                object: l.object_id.clone(),
                account: l.account.clone(),
                amount: money::format(l.amount, locale),
                credit: l.amount.minor() > 0,
            })
            .collect(),
        events: events.iter().map(|e| event(e, locale)).collect(),
        row: row(&payment, locale),
    };
    layout::render_with(status, &page)
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    escrow_id: String,
    #[serde(default)]
    dispute_id: String,
    /// `won` or `lost`.
    #[serde(default)]
    outcome: String,
    /// `yes` when the admin ticked the box that confirms closing a dispute.
    #[serde(default)]
    confirm: String,
}

impl WithCsrf for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// What an action form asks for.
#[derive(Clone, Copy)]
enum Action {
    Refund,
    Release,
    Cancel,
    CloseDispute,
}

pub async fn refund(state: State<Pages>, path: ObjectPath, operator: Operator, form: CsrfForm<ActionForm>) -> Response {
    act(state, path, operator, form, Action::Refund).await
}

pub async fn release(state: State<Pages>, path: ObjectPath, operator: Operator, form: CsrfForm<ActionForm>) -> Response {
    act(state, path, operator, form, Action::Release).await
}

pub async fn cancel(state: State<Pages>, path: ObjectPath, operator: Operator, form: CsrfForm<ActionForm>) -> Response {
    act(state, path, operator, form, Action::Cancel).await
}

/// Closes one of the payment's open disputes by hand (confirmed first).
pub async fn close_dispute(state: State<Pages>, path: ObjectPath, operator: Operator, form: CsrfForm<ActionForm>) -> Response {
    act(state, path, operator, form, Action::CloseDispute).await
}

async fn act(
    State(pages): State<Pages>,
    ObjectPath { locale, id }: ObjectPath,
    operator: Operator,
    CsrfForm(form): CsrfForm<ActionForm>,
    action: Action,
) -> Response {
    if let Some(refused) = operator.refusal(locale) {
        return refused;
    }
    if matches!(action, Action::CloseDispute) && form.confirm != "yes" {
        return layout::error_page(locale, StatusCode::BAD_REQUEST, "console.dispute_close_unconfirmed");
    }
    let (app, me) = (&pages.app, &operator.principal);
    let amount = form.amount.trim().replace(',', ".");
    let done = match action {
        Action::Refund => refund_through_api(&pages, me, &id, &amount, &form).await.map(|_| "refunded"),
        Action::Release => app.release_escrow(me, &form.escrow_id).await.map(|_| "released"),
        Action::Cancel => app.cancel_escrow(me, &form.escrow_id, form.reason.trim()).await.map(|_| "cancelled"),
        Action::CloseDispute => close_by_hand(app, me, &form).await.map(|_| "dispute_closed"),
    };
    match done {
        Ok(notice) => Redirect::to(&format!("/{}/admin/payments/{id}?notice={notice}", locale.code())).into_response(),
        Err(error) => {
            let field = match action {
                Action::Refund => "amount",
                Action::Release | Action::Cancel => "escrow",
                Action::CloseDispute => "dispute",
            };
            render(&pages, locale, &operator, &id, None, FieldErrors::from_app(error, locale, field, &[("escrow_id", "escrow")]))
                .await
        }
    }
}

async fn close_by_hand(app: &app::App, me: &app::Principal, form: &ActionForm) -> Result<(), app::AppError> {
    let outcome = DisputeStatus::from_str_opt(&form.outcome)
        .ok_or_else(|| app::AppError::from(domain::FieldError::new("outcome", "must be won or lost")))?;
    let input = CloseDispute {
        dispute_id: &form.dispute_id,
        outcome,
        reason: form.reason.trim(),
        idempotency_key: &form.idempotency_key,
    };
    app.close_dispute(me, input).await.map(|_| ())
}

/// A refund through the API's use cases. A payment whose escrow was released paid
/// its vendor: that transfer is reversed by the amount first (the refund takes only
/// money still on the platform), with a key derived from the form's, so a form
/// sent again after a refused refund does not reverse twice.
async fn refund_through_api(
    pages: &Pages,
    me: &app::Principal,
    id: &str,
    amount: &str,
    form: &ActionForm,
) -> Result<(), app::AppError> {
    let app = &pages.app;
    if let Some(transfer) = app.released_transfer(me, id).await? {
        let key = if form.idempotency_key.is_empty() { String::new() } else { format!("{}-reversal", form.idempotency_key) };
        let description = "reversed for a refund from the console";
        app.reverse_transfer(me, &transfer.id.to_string(), amount, description, &key).await?;
    }
    app.create_refund(me, id, amount, form.reason.trim(), &form.idempotency_key).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use domain::ledger::EntryKind;
    use domain::refunds::RefundStatus;

    #[test]
    fn every_refund_status_and_ledger_entry_kind_is_translated() {
        let keys = RefundStatus::ALL
            .iter()
            .map(|s| format!("console.refund.{}", s.as_str()))
            .chain(EntryKind::ALL.iter().map(|k| format!("console.entry.{}", k.as_str())));
        crate::i18n::assert_translated(&keys.collect::<Vec<_>>());
    }
}
