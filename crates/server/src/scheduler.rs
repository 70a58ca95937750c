//! Background jobs: maturing pending balances (with scheduled snapshots), delivering
//! the outbox's events to the platform (and publishing them on NATS when configured), releasing expired escrow holds, reconciling
//! the gateways (`RECONCILE_INTERVAL`) and, when the mock gateway is on, moving mock payouts and
//! wallet withdrawals along; and, on a PostgreSQL whose autovacuum is off, analyzing the
//! tables that have grown. Each job runs its batch to the end
//! before it notices a shutdown.

use std::time::Duration;

use app::App;
use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use store::SqlStore;

use crate::config::Config;

/// Holds one scheduler run releases; the next run picks up the rest.
const ESCROW_BATCH_MAX: i64 = 500;

/// How often the tables' growth is looked at when the service analyzes them itself: a
/// table is analyzed once, when it first holds 1,000 rows (`store::statistics`).
const ANALYZE_INTERVAL: Duration = Duration::from_secs(2);

pub struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    pub async fn join(self) {
        for job in self.0 {
            let _ = job.await;
        }
    }
}

/// `analyzed_here`: the store whose tables no autovacuum analyzes.
pub fn spawn(app: App, analyzed_here: Option<SqlStore>, config: &Config, stopped: watch::Receiver<bool>) -> Jobs {
    let mut jobs = vec![
        every(config.balance_refresh_interval, stopped.clone(), "balance", {
            let app = app.clone();
            let interval = config.balance_refresh_interval;
            move || {
                let app = app.clone();
                async move { app.run_balance_job(interval).await.map(|_| ()) }
            }
        }),
        every(config.recovery_interval, stopped.clone(), "recovery", {
            let app = app.clone();
            let age = chrono::Duration::from_std(config.recovery_interval).unwrap_or_default();
            move || {
                let app = app.clone();
                async move {
                    let before = Utc::now() - age;
                    app.recover_pending(before).await.map(|_| ())
                }
            }
        }),
        every(config.events_delivery_interval, stopped.clone(), "event delivery", {
            let app = app.clone();
            move || {
                let app = app.clone();
                async move { app.deliver_events().await.map(|_| ()) }
            }
        }),
        every(config.escrow_release_interval, stopped.clone(), "escrow release", {
            let app = app.clone();
            move || {
                let app = app.clone();
                async move { app.release_expired_escrows(ESCROW_BATCH_MAX).await.map(|_| ()) }
            }
        }),
    ];
    if let Some(store) = analyzed_here {
        jobs.push(every(ANALYZE_INTERVAL, stopped.clone(), "table statistics", move || {
            let store = store.clone();
            async move {
                let analyzed = store.analyze_grown_tables().await?;
                if !analyzed.is_empty() {
                    tracing::info!(tables = ?analyzed, "analyzed the tables that have grown past their first thousand rows");
                }
                Ok(())
            }
        }));
    }
    if !config.events_nats_url.is_empty() {
        jobs.push(every(config.events_delivery_interval, stopped.clone(), "event publishing", {
            let app = app.clone();
            move || {
                let app = app.clone();
                async move { app.publish_events().await.map(|_| ()) }
            }
        }));
    }
    if let Some(interval) = config.reconcile_interval {
        jobs.push(every(interval, stopped.clone(), "reconciliation", {
            let app = app.clone();
            move || {
                let app = app.clone();
                async move { app.run_reconciliation_job(interval).await.map(|_| ()) }
            }
        }));
    }
    if config.gateways_use_mock {
        let step = config.mock_payout_step;
        jobs.push(every(step, stopped, "mock gateway", move || {
            let app = app.clone();
            async move {
                let before = Utc::now() - chrono::Duration::from_std(step).unwrap_or_default();
                app.advance_mock_payouts(before).await?;
                app.advance_mock_withdrawals(before).await.map(|_| ())
            }
        }));
    }
    Jobs(jobs)
}

/// Runs `job` every `period` until `stopped` turns true; a failed run is logged and
/// retried at the next tick.
fn every<F, Fut>(period: Duration, stopped: watch::Receiver<bool>, name: &'static str, job: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), app::AppError>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = crate::wait_for(stopped.clone()) => return,
                _ = ticks.tick() => {
                    if let Err(error) = job().await {
                        tracing::error!(job = name, %error, debug = ?error, "scheduled job failed");
                    }
                }
            }
        }
    })
}
