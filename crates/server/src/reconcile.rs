//! The `reconcile` command and the scheduled reconciliation: each configured
//! gateway (or one) compared with our ledger over a window, stored as a run.

use chrono::{DateTime, Utc};
use domain::reconciliation::Line;

use crate::BoxError;

/// `--since`: a duration back from now (`24h`, `7d`) or an RFC 3339 time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let back = humantime::parse_duration(text)
        .map_err(|_| format!("--since {text:?}: give a duration back from now (24h, 7d) or an RFC 3339 time"))?;
    chrono::Duration::from_std(back)
        .ok()
        .and_then(|back| now.checked_sub_signed(back))
        .ok_or_else(|| format!("--since {text:?}: too far back"))
}

/// What one gateway's run found: its summary line, then every line that did not match.
pub fn describe(run: &app::reconciliation_ports::ReconciliationRun, lines: &[Line]) -> String {
    let counts: Vec<String> = run.counts.iter().map(|(outcome, count)| format!("{}={count}", outcome.as_str())).collect();
    let mut text = format!(
        "{}: run {} from {} to {}: {}\n",
        run.gateway_name,
        run.id,
        run.window.since.to_rfc3339(),
        run.window.until.to_rfc3339(),
        counts.join(" ")
    );
    for line in lines.iter().filter(|l| l.outcome.is_mismatch()) {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

/// Runs every named gateway (none: all configured ones); the number of mismatched
/// lines, or the first error.
pub async fn run(app: &app::App, gateways: &[String], since: DateTime<Utc>) -> Result<usize, BoxError> {
    let names = if gateways.is_empty() { app.reconcilable_gateways() } else { gateways.to_vec() };
    let mut mismatches = 0;
    for name in names {
        let (run, lines) = app.reconcile(&name, since).await?;
        print!("{}", describe(&run, &lines));
        mismatches += run.mismatches();
    }
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_duration_back_or_a_time() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_since("24h", now).unwrap().to_rfc3339(), "2026-12-03T12:00:00+00:00");
        assert_eq!(parse_since("2026-12-01T00:00:00Z", now).unwrap().to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert!(parse_since("yesterday", now).unwrap_err().contains("--since"));
    }
}
