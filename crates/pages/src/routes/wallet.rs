//! `/{locale}/balance`: the balance per currency, its chart, and the history,
//! newest first, a page at a time.

use app::ports::Page;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::wallet::WalletTransaction;
use serde::Deserialize;

use super::{InLocale, PageParams, Paging};
use crate::Pages;
use crate::chart::{Chart, balance_chart};
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::session::SignedIn;

const PAGE_SIZE: i32 = 10;
/// Rows the chart is drawn from: the latest ones.
const CHART_ROWS: i32 = 50;
/// Notices another page may ask this one to show (`?notice=`), and their texts.
const NOTICES: [(&str, &str); 1] = [("withdrawal_requested", "balance.withdrawal_requested")];

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    notice: String,
}

pub struct Row {
    pub date: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_text: &'static str,
    pub amount: String,
    pub credit: bool,
    pub description: String,
}

#[derive(Template)]
#[template(path = "balance.html")]
struct BalancePage {
    layout: Layout,
    notice: Option<&'static str>,
    balances: Vec<(&'static str, String)>,
    charts: Vec<Chart>,
    rows: Vec<Row>,
    /// A page number past the end of the history: said, with a link back.
    past_end: bool,
    newer: Option<u32>,
    older: Option<u32>,
}

pub async fn page(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<HistoryQuery>,
    session: SignedIn,
) -> Response {
    let (app, me) = (&pages.app, &session.principal);
    let paging = Paging::sized(query.page, PAGE_SIZE);
    let wanted = async {
        let balances = app.wallet(me, &me.subject).await?;
        let history = app.wallet_transactions(me, &me.subject, paging.page()?).await?;
        let latest = app.wallet_transactions(me, &me.subject, Page::parse(CHART_ROWS, 0)?).await?.0;
        Ok::<_, app::AppError>((balances, history, latest))
    };
    let (balances, (history, total), latest) = match wanted.await {
        Ok(found) => found,
        Err(error) => return layout::app_error(locale, error),
    };
    let (newer, older) = paging.links(history.len(), total);
    let page = BalancePage {
        past_end: paging.past_end(history.len(), total),
        layout: Layout::at(locale, "balance.title", &session.csrf, Some(me), "/balance"),
        notice: NOTICES.into_iter().find(|(name, _)| *name == query.notice).map(|(_, key)| key),
        charts: balances.iter().filter_map(|b| balance_chart(*b, &latest, locale)).collect(),
        balances: balances.iter().map(|b| (b.currency().code(), money::format(*b, locale))).collect(),
        rows: history.iter().map(|t| row(t, locale)).collect(),
        newer,
        older,
    };
    layout::render(&page)
}

fn row(transaction: &WalletTransaction, locale: Locale) -> Row {
    let credit = transaction.balance_change() > 0;
    let amount = money::format(transaction.amount, locale);
    Row {
        date: locale.date(transaction.created_at),
        kind: locale.t(&format!("kind.{}", transaction.kind)),
        status: transaction.status.as_str(),
        status_text: locale.t(&format!("status.{}", transaction.status)),
        amount: if credit { format!("+{amount}") } else { format!("−{amount}") },
        credit,
        description: if transaction.description == domain::wallet::TOP_UP_DESCRIPTION {
            locale.t("type.balance_deposit").to_owned()
        } else {
            transaction.description.clone()
        },
    }
}
