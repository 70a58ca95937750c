//! `cargo run -p shop`: the example shop, in front of a running payment service.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("SHOP_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let started = match shop::Config::from_env() {
        Ok(config) => shop::start(config).await,
        Err(error) => Err(error),
    };
    let running = match started {
        Ok(running) => running,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Example shop at {} (Ctrl-C stops it)", running.public_url);
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    ExitCode::SUCCESS
}
