//! An example marketplace front for the payment service. It sells the demo vendors'
//! products and talks to the service only through its gRPC API, as a platform
//! would: checkout with escrow, the gateway's page, "mark delivered" to pay the
//! vendor, and an operator's refunds.

mod catalogue;
pub mod config;
mod csrf;
pub mod error;
mod operator;
mod orders;
mod pages;
mod service;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

pub use config::Config;
pub use error::ShopError;

/// A started shop: where it listens, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    /// Where buyers open it: the host the gateway sends them back to, so their
    /// cookie (and their orders) come along.
    pub public_url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting and lets in-flight requests finish.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub async fn start(config: Config) -> Result<Running, ShopError> {
    let catalogue = catalogue::Catalogue::read(&config.catalogue_path)?;
    let service = service::Service::new(&config.service_url, config.credentials.clone())?;
    let where_ = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&where_).await.map_err(|e| ShopError::Bind(where_.clone(), e))?;
    let addr = listener.local_addr().map_err(|e| ShopError::Bind(where_, e))?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://localhost:{}", addr.port()));
    let shop = pages::Shop {
        catalogue,
        orders: orders::Orders::default(),
        service,
        csrf: csrf::Csrf::random(),
        public_url: public_url.clone(),
    };
    let router = pages::router(Arc::new(shop));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serving.await {
            tracing::error!(%error, "the shop stopped");
        }
    });
    tracing::info!(%addr, service = config.service_url, "example shop listening");
    Ok(Running { addr, public_url, stop, task })
}
