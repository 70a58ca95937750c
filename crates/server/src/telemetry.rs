//! JSON logs and the Prometheus endpoint.

use std::sync::OnceLock;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds, from a fast cache hit to a slow gateway.
const LATENCY_BUCKETS_S: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level},sqlx=warn,h2=warn,hyper=warn,tower=warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_current_span(true).with_span_list(false).with_env_filter(filter).try_init();
}

/// The process-wide recorder (installed once, also when tests start several services).
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS_S)
            .and_then(|builder| builder.install_recorder())
            .unwrap_or_else(|error| {
                eprintln!("metrics recorder could not be installed: {error}");
                std::process::exit(1)
            })
    })
}

pub fn metrics_router() -> Router {
    let handle = prometheus();
    Router::new().route("/metrics", get(move || std::future::ready(handle.render())))
}
