//! Use cases of the payment service. They own the order of effects (validate → store
//! in one transaction → call the gateway outside it) and define the ports that the
//! storage and gateway adapters implement.

mod accounts;
pub mod auth;
mod balances;
pub(crate) mod checkout;
mod console;
pub mod console_ports;
pub mod dispute_ports;
mod disputes;
pub mod error;
mod escrow;
pub mod escrow_ports;
mod events;
pub mod events_ports;
mod gateway_events;
pub mod gateways;
mod group_commit;
mod idempotency;
pub mod marketplace_ports;
pub mod metrics;
pub mod outbox;
mod payments;
pub mod payouts;
pub mod ports;
mod reconciliation;
pub mod reconciliation_ports;
mod refunds;
mod splits;
pub mod transfers;
pub mod wallet;
pub mod wallet_ports;
pub mod webhooks;
mod withdrawals;

use std::sync::Arc;

pub use accounts::MockOnboarding;
pub use auth::{Principal, Role};
pub use disputes::CloseDispute;
pub use error::{AppError, StoreError};
pub use events::{DELIVERY_BATCH, EndpointUpdate, EventDelivery};
pub use gateways::{ConnectGateways, Gateways};
pub use payments::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX};
pub use webhooks::WebhookReceipt;

/// Business settings from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Days before transferred funds become available (0 = at once).
    pub balance_pending_days: u32,
    /// Fee of an instant payout, in percent of its amount.
    pub instant_payout_fee_percent: rust_decimal::Decimal,
}

/// The application: every use case is a method on it.
#[derive(Clone)]
pub struct App {
    store: Arc<dyn ports::Store>,
    gateways: Arc<Gateways>,
    connect: Arc<ConnectGateways>,
    /// Gateways served by the built-in mock, whose hosted page may complete sessions.
    mock_gateway_names: Arc<Vec<String>>,
    settings: Settings,
    events: EventDelivery,
    /// New transfers of concurrent requests, written together.
    new_transfers: group_commit::GroupCommit<
        marketplace_ports::TransferRequest,
        Result<marketplace_ports::Guarded<domain::transfers::Transfer>, StoreError>,
    >,
    /// Transfer settlements of concurrent requests, written together.
    settlements: group_commit::GroupCommit<marketplace_ports::TransferSettlement, Result<bool, StoreError>>,
    /// Checkouts' new payments, and then their gateway sessions, written together.
    new_payments: group_commit::GroupCommit<ports::NewPayment, Result<ports::CreatePaymentOutcome, StoreError>>,
    sessions: group_commit::GroupCommit<ports::SessionAttachment, Result<domain::payment::Payment, StoreError>>,
    /// Payment events (a checkout's success, failure, expiry) of concurrent requests, applied together.
    payment_events: group_commit::GroupCommit<ports::PaymentEvent, Result<ports::EventOutcome, StoreError>>,
    /// Payments read by id for concurrent requests, read together: a status poll is
    /// the busiest read, and one statement for many spares the database a round trip
    /// (and sqlx's ping of the connection coming back) per read.
    payment_reads: group_commit::GroupCommit<uuid::Uuid, Result<Option<domain::payment::Payment>, StoreError>>,
}

impl App {
    pub fn new(
        store: Arc<dyn ports::Store>,
        gateways: Gateways,
        connect: ConnectGateways,
        mock_gateway_names: Vec<String>,
        settings: Settings,
        events: EventDelivery,
    ) -> Self {
        let new_transfers = store_writer(&store, |store, batch| store.create_transfers(batch));
        // The gateway's answers to concurrent transfers, settled together.
        let settlements = store_writer(&store, |store, batch| store.settle_transfers(batch));
        let new_payments = store_writer(&store, |store, batch| store.create_payments(batch));
        let sessions = store_writer(&store, |store, batch| store.attach_checkout_sessions(batch));
        let payment_events = store_writer(&store, |store, batch| store.apply_payment_events(batch));
        let payment_reads = store_writer(&store, |store, ids| store.payments(ids)).for_reads();
        Self {
            store,
            gateways: Arc::new(gateways),
            connect: Arc::new(connect),
            mock_gateway_names: Arc::new(mock_gateway_names),
            settings,
            events,
            new_transfers,
            settlements,
            new_payments,
            sessions,
            payment_events,
            payment_reads,
        }
    }
}

/// A group commit whose write (or read) is one call of the store's with the whole batch.
fn store_writer<T: Send + Sync + 'static, R: Send + 'static>(
    store: &Arc<dyn ports::Store>,
    write: for<'a> fn(&'a dyn ports::Store, &'a [T]) -> futures_util::future::BoxFuture<'a, Vec<R>>,
) -> group_commit::GroupCommit<T, R> {
    let store = store.clone();
    group_commit::GroupCommit::new(move |batch: Vec<T>| {
        let store = store.clone();
        async move { write(&*store, &batch).await }
    })
}
