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

    /// The names `reconcile` accepts.
    pub fn reconcilable_gateways(&self) -> Vec<String> {
        self.gateways.names().map(str::to_owned).collect()
    }

    pub async fn reconciliation_runs(
        &self,
        principal: &Principal,
        page: Page,
    ) -> Result<(Vec<ReconciliationRun>, i64), AppError> {
        principal.ensure_service()?;
        Ok(self.store.reconciliation_runs(page).await?)
    }

    pub async fn reconciliation_run(&self, principal: &Principal, id: Uuid) -> Result<(ReconciliationRun, Vec<Line>), AppError> {
        principal.ensure_service()?;
        self.store.reconciliation_run(id).await?.ok_or(AppError::NotFound("reconciliation run"))
    }
}

fn went_through(gateway: &dyn PaymentGateway, record: &OurRecord) -> bool {
    match &record.via {
        Via::Gateway(name) => name == gateway.name(),
        Via::Account(account) => gateway.reconciles_account(account),
    }
}
