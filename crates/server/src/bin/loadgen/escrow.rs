//! The escrow-release scenario: make `--count` escrowed paid checkouts for a fresh
//! vendor, make their holds due now in the database (the API holds at least a day),
//! then time ProcessExpiredEscrows calls, `--concurrency` at once, until none is left.
//! `--duration` does not apply: the count bounds both phases.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use crate::BoxError;
use crate::driver::{Bounds, drive};
use crate::service::{Escrow, Service};

/// Holds made when `--count` is not given.
const DEFAULT_HOLDS: u64 = 1000;
/// The most ProcessExpiredEscrows releases in one call.
const BATCH: i32 = 1000;
/// Each phase ends when its work is done; this only bounds a stuck one.
const PHASE_LIMIT: Duration = Duration::from_secs(30 * 60);

pub async fn release(
    service: &Service,
    callers: Arc<Vec<Service>>,
    bounds: Bounds,
    db_url: &str,
    run: u32,
) -> Result<(), BoxError> {
    let holds = bounds.count.unwrap_or(DEFAULT_HOLDS);
    let vendor: Arc<str> = service.onboarded_vendor(&format!("load-{run}-escrow-vendor")).await?.into();
    let merchant = vendor.to_string();
    let seeding = Bounds { count: Some(holds), duration: PHASE_LIMIT, ..bounds };
    let seeders = callers.clone();
    let seeded = drive(seeding, move |worker, n| {
        let (service, vendor) = (seeders[worker].clone(), vendor.clone());
        async move {
            let key = format!("load-{run}-escrow-{n}");
            service.paid_checkout(&key, "10.00", Some(Escrow { merchant: &vendor })).await.map(|_| 1)
        }
    })
    .await;
    seeded.print("escrow-seeding", "checkouts", "");

    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(db_url).await?;
    let due = sqlx::query("UPDATE escrow_holds SET hold_until = 0 WHERE status = 'holding' AND merchant_id = $1")
        .bind(&merchant)
        .execute(&pool)
        .await?
        .rows_affected();

    let report = drive(Bounds { count: None, duration: PHASE_LIMIT, ..bounds }, move |worker, _| {
        let service = callers[worker].clone();
        async move { Ok(u64::try_from(service.process_expired_escrows(BATCH).await?)?) }
    })
    .await;
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM escrow_holds WHERE status = 'holding' AND merchant_id = $1")
        .bind(&merchant)
        .fetch_one(&pool)
        .await?
        .try_get("n")?;
    pool.close().await;
    // The rate is holds released per second; the percentiles are per call.
    report.print("escrow-release", "released", &format!("holds={due} left={left} "));
    Ok(())
}
