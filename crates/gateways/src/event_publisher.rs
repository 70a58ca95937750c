//! `EventPublisher` on NATS JetStream: each event on the subject
//! `{prefix}.{event type}` with the body the endpoints get, unsigned (NATS has its
//! own authentication), and the event id as `Nats-Msg-Id`, so JetStream drops a
//! publication it already stored (one re-sent after a crash before it was marked).

use std::time::Duration;

use app::events_ports::EventPublisher;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_trait::async_trait;
use domain::events::EventType;
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Where the events go, read from the configuration.
pub struct NatsSettings {
    /// `nats://host:4222`, possibly with credentials: never printed.
    pub url: String,
    pub subject_prefix: String,
    pub stream: String,
    /// Longest wait to connect, and for a publication's acknowledgement.
    pub timeout: Duration,
}

/// Connects on first use, not at start: payments must not wait for the event bus.
/// While NATS is unreachable each publication fails, the events stay in the outbox,
/// and the next round tries to connect again.
pub struct NatsEventPublisher {
    settings: NatsSettings,
    jetstream: OnceCell<jetstream::Context>,
}

impl NatsEventPublisher {
    pub fn new(settings: NatsSettings) -> Self {
        Self { settings, jetstream: OnceCell::new() }
    }

    async fn jetstream(&self) -> Result<&jetstream::Context, String> {
        self.jetstream.get_or_try_init(|| connect(&self.settings)).await
    }
}

/// Connects and creates the stream (subjects `{prefix}.>`) unless it exists.
async fn connect(settings: &NatsSettings) -> Result<jetstream::Context, String> {
    crate::install_crypto_provider();
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(settings.timeout)
        .connect(settings.url.as_str())
        .await
        .map_err(|e| format!("cannot connect to NATS: {e}"))?;
    let mut jetstream = jetstream::new(client);
    jetstream.set_timeout(settings.timeout);
    let config = stream::Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.>", settings.subject_prefix)],
        ..Default::default()
    };
    jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|e| format!("cannot create the JetStream stream {}: {e}", settings.stream))?;
    Ok(jetstream)
}

#[async_trait]
impl EventPublisher for NatsEventPublisher {
    async fn publish(&self, event_type: EventType, event_id: Uuid, body: &[u8]) -> Result<(), String> {
        let jetstream = self.jetstream().await?;
        let subject = format!("{}.{}", self.settings.subject_prefix, event_type.as_str());
        let message = PublishMessage::build().payload(body.to_vec().into()).message_id(event_id.to_string());
        let ack = jetstream.send_publish(subject, message).await.map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())?;
        Ok(())
    }
}
