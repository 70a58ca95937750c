//! Runs one operation in a loop on each worker until the duration is over or the
//! count is reached, and reports throughput, latency percentiles and errors.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::BoxError;

/// When a run stops: whichever comes first.
#[derive(Clone, Copy)]
pub struct Bounds {
    pub concurrency: usize,
    pub duration: Duration,
    pub count: Option<u64>,
}

/// What a run measured.
pub struct Report {
    /// What the operations did: one each, or what they said (holds released).
    pub units: u64,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl Report {
    fn percentile_ms(&self, p: f64) -> f64 {
        let last = self.latencies.len().saturating_sub(1) as f64;
        self.latencies.get((last * p).round() as usize).copied().unwrap_or_default().as_secs_f64() * 1000.0
    }

    /// One `key=value` line (what `bench/run` reads), then the first error if any.
    /// The rate is units per second; the percentiles are per operation.
    pub fn print(&self, scenario: &str, unit: &str, extra: &str) {
        let seconds = self.elapsed.as_secs_f64().max(f64::EPSILON);
        println!(
            "scenario={scenario} {extra}{unit}={} seconds={seconds:.2} rate={:.1} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} errors={}",
            self.units,
            self.units as f64 / seconds,
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            self.errors,
        );
        if let Some(error) = &self.first_error {
            println!("first error: {error}");
        }
    }
}

/// Calls `operation(worker, n)` on `bounds.concurrency` workers at once. `n` counts
/// over all workers, so it is unique within the run. An operation answers how many
/// units it did; a worker whose operation did none has nothing left and stops.
pub async fn drive<F, Fut>(bounds: Bounds, operation: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, BoxError>> + Send,
{
    let operation = Arc::new(operation);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..bounds.concurrency {
        let (operation, issued) = (operation.clone(), issued.clone());
        workers.spawn(async move {
            let (mut latencies, mut errors, mut units) = (Vec::new(), Vec::new(), 0);
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if Instant::now() >= deadline || bounds.count.is_some_and(|count| n >= count) {
                    break;
                }
                let begun = Instant::now();
                match tokio::time::timeout_at(deadline.into(), operation(worker, n)).await {
                    Ok(Ok(0)) => break,
                    Ok(Ok(done)) => {
                        latencies.push(begun.elapsed());
                        units += done;
                    }
                    Ok(Err(error)) => errors.push(error.to_string()),
                    // Cut by the end of the run: neither a success nor an error.
                    Err(_) => break,
                }
            }
            (latencies, errors, units)
        });
    }
    let (mut latencies, mut errors, mut units) = (Vec::new(), Vec::new(), 0);
    for (worker_latencies, worker_errors, worker_units) in workers.join_all().await {
        latencies.extend(worker_latencies);
        errors.extend(worker_errors);
        units += worker_units;
    }
    latencies.sort();
    let elapsed = started.elapsed();
    Report { units, elapsed, latencies, errors: errors.len(), first_error: errors.into_iter().next() }
}
