//! `/{locale}/admin/reconciliation`: the stored reconciliation runs, newest first,
//! and `/{locale}/admin/reconciliation/{id}`: one run's lines, mismatches first.
//! Runs come from the `reconcile` command and the scheduled job.

use app::reconciliation_ports::ReconciliationRun;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::Money;
use domain::reconciliation::{Line, Outcome, Standing};

use super::{ObjectPath, Operator, PageQuery, Paging};
use crate::Pages;
use crate::i18n::Locale;
use crate::layout::{self, Layout};
use crate::money;
use crate::routes::{InLocale, Listed, PageParams};

pub struct RunRow {
    pub id: String,
    pub gateway: String,
    pub finished: String,
    pub window: String,
    pub matched: usize,
    pub mismatches: usize,
}

fn run_row(run: &ReconciliationRun, locale: Locale) -> RunRow {
    RunRow {
        id: run.id.to_string(),
        gateway: run.gateway_name.clone(),
        finished: locale.date(run.finished_at),
        window: format!("{} – {}", locale.date(run.window.since), locale.date(run.window.until)),
        matched: run.count(Outcome::Matched),
        mismatches: run.mismatches(),
    }
}

#[derive(Template)]
#[template(path = "admin/reconciliations.html")]
struct RunsPage {
    layout: Layout,
    runs: Vec<RunRow>,
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
    let listed = Paging::of(query.page).load(|page| pages.app.reconciliation_runs(&operator.principal, page)).await;
    let Listed { rows: runs, total, newer, older } = match listed {
        Ok(listed) => listed,
        Err(error) => return layout::app_error(locale, error),
    };
    let page = RunsPage {
        layout: Layout::at(locale, "console.reconciliation", &operator.csrf, Some(&operator.principal), "/admin/reconciliation"),
        runs: runs.iter().map(|run| run_row(run, locale)).collect(),
        total,
        newer,
        older,
    };
    layout::render(&page)
}

pub struct LineRow {
    /// The outcome's code, a CSS class of its badge.
    pub outcome: &'static str,
    pub outcome_text: &'static str,
    pub kind_text: &'static str,
    pub our_id: String,
    pub gateway_id: String,
    pub ours: String,
    pub theirs: String,
}

/// An amount and its standing as this language writes them; a dash for a side
/// that does not have the object.
fn side(side: Option<(Money, Standing)>, locale: Locale) -> String {
    side.map_or_else(
        || "–".to_owned(),
        |(amount, standing)| format!("{} · {}", money::format(amount, locale), locale.t(&standing_key(standing))),
    )
}

fn outcome_key(outcome: Outcome) -> String {
    format!("reconcile.{}", outcome.as_str())
}

fn standing_key(standing: Standing) -> String {
    format!("reconcile.{}", standing.as_str())
}

fn kind_key(kind: domain::reconciliation::ObjectKind) -> String {
    format!("reconcile.kind.{}", kind.as_str())
}

fn line_row(line: &Line, locale: Locale) -> LineRow {
    LineRow {
        outcome: line.outcome.as_str(),
        outcome_text: locale.t(&outcome_key(line.outcome)),
        kind_text: locale.t(&kind_key(line.kind)),
        our_id: line.our_id.clone().unwrap_or_default(),
        gateway_id: line.gateway_id.clone().unwrap_or_default(),
        ours: side(line.ours, locale),
        theirs: side(line.theirs, locale),
    }
}

#[derive(Template)]
#[template(path = "admin/reconciliation.html")]
struct RunPage {
    layout: Layout,
    run: RunRow,
    /// Each outcome's text and count.
    counts: Vec<(&'static str, usize)>,
    lines: Vec<LineRow>,
}

pub async fn detail(State(pages): State<Pages>, ObjectPath { locale, id }: ObjectPath, operator: Operator) -> Response {
    let (run, lines) = match pages.app.reconciliation_run(&operator.principal, &id).await {
        Ok(found) => found,
        Err(error) => return layout::app_error(locale, error),
    };
    let path = format!("/admin/reconciliation/{id}");
    let page = RunPage {
        layout: Layout::at(locale, "console.reconciliation_run", &operator.csrf, Some(&operator.principal), &path),
        counts: run.counts.iter().map(|(outcome, count)| (locale.t(&outcome_key(*outcome)), *count)).collect(),
        run: run_row(&run, locale),
        lines: lines.iter().map(|line| line_row(line, locale)).collect(),
    };
    layout::render(&page)
}

#[cfg(test)]
mod tests {
    use domain::reconciliation::ObjectKind;

    use super::*;
    use crate::i18n::MISSING;

    #[test]
    fn every_outcome_kind_and_standing_has_its_text_in_every_language() {
        let keys = Outcome::ALL
            .into_iter()
            .map(outcome_key)
            .chain(ObjectKind::ALL.into_iter().map(kind_key))
            .chain([Standing::Pending, Standing::Succeeded, Standing::Failed].into_iter().map(standing_key));
        for key in keys {
            for locale in Locale::ALL {
                assert_ne!(locale.t(&key), MISSING, "{key} in {}", locale.code());
            }
        }
    }
}
