//! `/{locale}/admin/disputes`: every dispute the gateways reported, newest first; a
//! payment's own disputes are on its page (`payments::detail`), which is where each
//! dispute row links and where an admin closes an open one by hand.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::disputes::Dispute;

use super::{Operator, PageQuery, Paging};
use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::routes::{InLocale, Listed, PageParams};

/// A dispute as a table row (`admin/disputes_table.html`).
pub struct DisputeRow {
    pub id: String,
    /// Open: an admin may close it by hand on its payment's page.
    pub open: bool,
    /// The operator who closed it by hand, and why.
    pub closed_by_hand: Option<(String, String)>,
    pub date: String,
    pub payment: String,
    pub gateway: String,
    pub gateway_id: String,
    pub status: &'static str,
    pub status_text: &'static str,
    pub amount: String,
    pub fee: String,
    pub reason: String,
}

pub fn row(dispute: &Dispute, locale: Locale) -> DisputeRow {
    DisputeRow {
        id: dispute.id.to_string(),
        open: dispute.status.is_open(),
        closed_by_hand: dispute.closed_by_hand.as_ref().map(|c| (c.operator.clone(), c.reason.clone())),
        date: locale.date(dispute.created_at),
        payment: dispute.payment_id.to_string(),
        gateway: dispute.gateway_name.clone(),
        gateway_id: dispute.gateway_dispute_id.clone(),
        status: dispute.status.as_str(),
        status_text: locale.t(&format!("console.dispute.{}", dispute.status.as_str())),
        amount: money::format(dispute.amount, locale),
        fee: money::format(dispute.fee, locale),
        reason: dispute.reason.clone(),
    }
}

#[derive(Template)]
#[template(path = "admin/disputes.html")]
struct DisputesPage {
    layout: Layout,
    disputes: Vec<DisputeRow>,
    total: i64,
    newer: Option<u32>,
    older: Option<u32>,
}

pub async fn list(
    State(pages): State<Pages>,
    InLocale(locale): InLocale,
    PageParams(query): PageParams<PageQuery>,
    operator: Operator,
) -> Response {
    let listed = Paging::of(query.page).load(|page| pages.app.disputes(&operator.principal, "", None, page)).await;
    let Listed { rows: disputes, total, newer, older } = match listed {
        Ok(listed) => listed,
        Err(error) => return layout::app_error(locale, error),
    };
    let page = DisputesPage {
        layout: Layout::at(locale, "console.disputes", &operator.csrf, Some(&operator.principal), "/admin/disputes"),
        disputes: disputes.iter().map(|d| row(d, locale)).collect(),
        total,
        newer,
        older,
    };
    layout::render(&page)
}

#[cfg(test)]
mod tests {
    use domain::disputes::DisputeStatus;

    use crate::i18n::{Locale, MISSING};

    #[test]
    fn every_dispute_status_is_translated() {
        for locale in Locale::ALL {
            for status in DisputeStatus::ALL {
                let key = format!("console.dispute.{}", status.as_str());
                assert_ne!(locale.t(&key), MISSING, "{key} in {}", locale.code());
            }
        }
    }
}
