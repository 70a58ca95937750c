//! Reconciliation: what our ledger says beside what a gateway reports, per gateway
//! and time window. A run is stored whatever it finds; a gateway that cannot be
//! asked stores nothing, since a run that half-asked would report false gaps.

use chrono::{DateTime, Utc};
use domain::reconciliation::{self, Line};
use uuid::Uuid;

use crate::auth::Principal;
use crate::ports::{Page, PaymentGateway};
use crate::reconciliation_ports::{OurRecord, ReconciliationRun, Via, Window};
use crate::{App, AppError};

impl App {
    /// Compares our records of the window with `gateway_name`'s report (empty: the
    /// default gateway), stores the run and its lines, and sets the metrics.
    pub async fn reconcile(&self, gateway_name: &str, since: DateTime<Utc>) -> Result<(ReconciliationRun, Vec<Line>), AppError> {
        let gateway = self.gateways.resolve("gateway", gateway_name)?;
        let until = Utc::now();
        if since >= until {
            return Err(domain::FieldError::new("since", "must be in the past").into());
        }
        let window = Window { since, until };
        let ours: Vec<_> =
            self.store.reconciliation_records(&window).await?.into_iter().filter(|r| went_through(gateway.as_ref(), r)).collect();
        let theirs = gateway.reconciliation_report(&window, &ours).await?;
        let ours: Vec<_> = ours.into_iter().map(|r| r.record).collect();
        let lines = reconciliation::compare(&ours, &theirs);
        let run = ReconciliationRun {
            id: Uuid::now_v7(),
            gateway_name: gateway.name().to_owned(),
            window,
            finished_at: Utc::now(),
            counts: reconciliation::summary(&lines),
        };
        self.store.save_reconciliation(&run, &lines).await?;
        crate::metrics::reconciliation(&run);
        Ok((run, lines))
    }

    /// The scheduled reconciliation: every configured gateway over the last two
    /// intervals (the overlap sees a record made at an edge twice, never not at all),
    /// once per `interval` across replicas. A gateway that fails is logged and the
    /// others still run; returns how many lines did not match.
    pub async fn run_reconciliation_job(&self, interval: std::time::Duration) -> Result<usize, AppError> {
        let now = Utc::now();
        let slot = now.timestamp_millis() / i64::try_from(interval.as_millis().max(1)).unwrap_or(i64::MAX);
        if !self.store.claim_job_slot("reconciliation", slot).await? {
            return Ok(0);
        }
        let since = now - chrono::Duration::from_std(interval * 2).unwrap_or(chrono::Duration::days(2));
        let mut mismatches = 0;
        for name in self.reconcilable_gateways() {
            match self.reconcile(&name, since).await {
                Ok((run, _)) if run.mismatches() > 0 => {
                    tracing::error!(gateway = name, run = %run.id, mismatches = run.mismatches(), "reconciliation found lines that do not match: see the console");
                    mismatches += run.mismatches();
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(gateway = name, %error, "reconciliation could not run; it runs again next interval")
                }
            }
        }
        Ok(mismatches)
    }

    /// The names `reconcile` accepts.
    pub fn reconcilable_gateways(&self) -> Vec<String> {
        self.gateways.names().map(str::to_owned).collect()
    }

    /// Stored runs, newest first, with the total count.
    pub async fn reconciliation_runs(
        &self,
        principal: &Principal,
        page: Page,
    ) -> Result<(Vec<ReconciliationRun>, i64), AppError> {
        principal.ensure_service()?;
        Ok(self.store.reconciliation_runs(page).await?)
    }

    /// A run and its lines, mismatches first.
    pub async fn reconciliation_run(
        &self,
        principal: &Principal,
        run_id: &str,
    ) -> Result<(ReconciliationRun, Vec<Line>), AppError> {
        principal.ensure_service()?;
        let id = domain::payment::parse_uuid("run_id", run_id)?;
        self.store.reconciliation_run(id).await?.ok_or(AppError::NotFound("reconciliation run"))
    }
}

fn went_through(gateway: &dyn PaymentGateway, record: &OurRecord) -> bool {
    match &record.via {
        Via::Gateway(name) => name == gateway.name(),
        Via::Account(account) => gateway.reconciles_account(account),
    }
}
