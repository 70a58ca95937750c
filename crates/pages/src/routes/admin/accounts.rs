//! `/{locale}/admin/accounts`: the connected accounts with their balance, and
//! `/{locale}/admin/accounts/{id}`: one account's balance over time (the pages'
//! SVG chart, drawn from its snapshots), its transfers and payouts.

use app::marketplace_ports::BalanceSnapshot;
use app::ports::Page;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::{Currency, Money};

use super::{ObjectPath, Operator, PAGE_SIZE, PageQuery, Paging};
use crate::Pages;
use crate::chart::{Chart, line_chart};
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::routes::{InLocale, PageParams};

/// Snapshots the chart is drawn from: the latest ones.
const CHART_SNAPSHOTS: i32 = 50;

pub struct AccountRow {
    pub id: String,
    pub email: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub balances: String,
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    layout: Layout,
    rows: Vec<AccountRow>,
    total: i64,
    newer: Option<u32>,
    older: Option<u32>,
}

/// `available (pending)` per currency, e.g. `$90.00 (+$0.00)`, and what the vendor
/// owes the platform when it owes something (`owes $90.00`).
/// A vendor that was never paid has no balance in any currency: say so, not an empty cell.
fn balances(snapshots: &[BalanceSnapshot], locale: Locale) -> String {
    let known: Vec<String> = snapshots
        .iter()
        .filter_map(|s| {
            let currency = Currency::parse("currency", &s.currency).ok()?;
            let (available, pending) =
                (Money::from_minor(s.available_minor, currency), Money::from_minor(s.pending_minor, currency));
            let line = format!("{} (+{})", money::format(available, locale), money::format(pending, locale));
            Some(match s.receivable_minor {
                0 => line,
                owed => {
                    format!("{line}, {} {}", locale.t("console.owes"), money::format(Money::from_minor(owed, currency), locale))
                }
            })
        })
        .collect();
    if known.is_empty() { locale.t("console.no_balance").to_owned() } else { known.join(" · ") }
}

pub async fn list(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<PageQuery>,
    operator: Operator,
) -> Response {
    let (app, me) = (&pages.app, &operator.principal);
    let paging = Paging::of(query.page);
    let wanted = async {
        let (accounts, total) = app.accounts(me, None, paging.page()?).await?;
        let mut rows = Vec::with_capacity(accounts.len());
        for account in &accounts {
            let id = account.id.to_string();
            rows.push(AccountRow {
                balances: balances(&app.balance(me, &id, false).await?, locale),
                id,
                email: account.email.clone(),
                status: account.status.as_str(),
                status_text: locale.t(&format!("console.account.{}", account.status.as_str())),
            });
        }
        Ok::<_, app::AppError>((rows, total))
    };
    let (rows, total) = match wanted.await {
        Ok(found) => found,
        Err(error) => return layout::app_error(locale, error),
    };
    let (newer, older) = paging.links(rows.len(), total);
    let page = AccountsPage {
        layout: Layout::at(locale, "console.accounts", &operator.csrf, Some(me), "/admin/accounts"),
        rows,
        total,
        newer,
        older,
    };
    layout::render(&page)
}

pub struct Movement {
    pub date: String,
    pub amount: String,
    /// The status code, a CSS class of its badge.
    pub status: &'static str,
    pub status_text: &'static str,
    pub link: Option<String>,
    /// A transfer's part that repaid the vendor's debt instead of reaching it.
    pub recovered: Option<String>,
    /// What reversals took back of that part: the vendor owes it again.
    pub owed_again: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    layout: Layout,
    id: String,
    email: String,
    status_text: &'static str,
    balances: String,
    charts: Vec<Chart>,
    /// Transfers, then payouts: id, title key, rows.
    tables: Vec<(&'static str, &'static str, Vec<Movement>)>,
}

/// One chart per currency: the snapshots' available balance, oldest first, then
/// the balance now (the balance job takes snapshots; a new account has none yet).
fn charts(newest_first: &[BalanceSnapshot], now: &[BalanceSnapshot], locale: Locale) -> Vec<Chart> {
    now.iter()
        .filter_map(|current| {
            let currency = Currency::parse("currency", &current.currency).ok()?;
            let series: Vec<i128> = newest_first
                .iter()
                .rev()
                .chain(std::iter::once(current))
                .filter(|s| s.currency == current.currency)
                .map(|s| i128::from(s.available_minor))
                .collect();
            Some(line_chart(currency, &series, locale))
        })
        .collect()
}

pub async fn detail(State(pages): State<Pages>, ObjectPath { locale, id }: ObjectPath, operator: Operator) -> Response {
    let (app, me) = (&pages.app, &operator.principal);
    let wanted = async {
        let account = app.account(me, &id).await?;
        let current = app.balance(me, &id, false).await?;
        let (history, _) = app.balance_history(me, &id, None, None, Page::parse(CHART_SNAPSHOTS, 0)?).await?;
        let (transfers, _) = app.transfers(me, &id, Page::parse(PAGE_SIZE, 0)?).await?;
        let (payouts, _) = app.payouts(me, &id, None, Page::parse(PAGE_SIZE, 0)?).await?;
        Ok::<_, app::AppError>((account, current, history, transfers, payouts))
    };
    let (account, current, history, transfers, payouts) = match wanted.await {
        Ok(found) => found,
        Err(error) => return layout::app_error(locale, error),
    };
    let code = locale.code();
    // A part of a transfer, shown when there is one.
    let part = |t: &domain::transfers::Transfer, minor: i64| {
        (minor > 0).then(|| money::format(domain::Money::from_minor(minor, t.amount.currency()), locale))
    };
    let page = AccountPage {
        layout: Layout::at(locale, "console.account_title", &operator.csrf, Some(me), &format!("/admin/accounts/{id}")),
        id: account.id.to_string(),
        email: account.email.clone(),
        status_text: locale.t(&format!("console.account.{}", account.status.as_str())),
        balances: balances(&current, locale),
        charts: charts(&history, &current, locale),
        tables: vec![
            (
                "transfers",
                "console.transfers",
                transfers
                    .iter()
                    .map(|t| Movement {
                        date: locale.date(t.created_at),
                        amount: money::format(t.amount, locale),
                        status: t.status.as_str(),
                        status_text: locale.t(&format!("console.transfer.{}", t.status.as_str())),
                        link: t.payment_id.map(|p| format!("/{code}/admin/payments/{p}")),
                        recovered: part(t, t.recovered_minor),
                        owed_again: part(t, t.reversed_recovered_minor),
                    })
                    .collect(),
            ),
            (
                "payouts",
                "console.payouts",
                payouts
                    .iter()
                    .map(|p| Movement {
                        date: locale.date(p.created_at),
                        amount: money::format(p.amount, locale),
                        status: p.status.as_str(),
                        status_text: locale.t(&format!("console.payout.{}", p.status.as_str())),
                        link: None,
                        recovered: None,
                        owed_again: None,
                    })
                    .collect(),
            ),
        ],
    };
    layout::render(&page)
}

#[cfg(test)]
mod tests {
    use domain::payouts::PayoutStatus;
    use domain::transfers::TransferStatus;

    #[test]
    fn every_transfer_and_payout_status_is_translated() {
        let keys = TransferStatus::ALL
            .iter()
            .map(|s| format!("console.transfer.{}", s.as_str()))
            .chain(PayoutStatus::ALL.iter().map(|s| format!("console.payout.{}", s.as_str())));
        crate::i18n::assert_translated(&keys.collect::<Vec<_>>());
    }
}
