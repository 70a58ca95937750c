//! `EventPublisher` on NATS JetStream: each event on the subject
//! `{prefix}.{event type}` with the body the endpoints get, unsigned (NATS has its
//! own authentication), and the event id as `Nats-Msg-Id`, so JetStream drops a
//! publication it already stored (one re-sent after a crash before it was marked).

use std::time::Duration;

use app::events_ports::EventPublisher;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_trait::async_trait;
use domain::events::EventType;
use uuid::Uuid;

/// Where the events go, read from the configuration.
pub struct NatsSettings<'a> {
    /// `nats://host:4222`, possibly with credentials: never printed.
    pub url: &'a str,
    pub subject_prefix: &'a str,
    pub stream: &'a str,
    /// Longest wait to connect, and for a publication's acknowledgement.
    pub timeout: Duration,
}

pub struct NatsEventPublisher {
    jetstream: jetstream::Context,
    subject_prefix: String,
}

impl NatsEventPublisher {
    /// Connects and creates the stream (subjects `{prefix}.>`) unless it exists.
    pub async fn connect(settings: &NatsSettings<'_>) -> Result<Self, String> {
        crate::install_crypto_provider();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(settings.timeout)
            .connect(settings.url)
            .await
            .map_err(|e| format!("cannot connect to NATS: {e}"))?;
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(settings.timeout);
        let config = stream::Config {
            name: settings.stream.to_owned(),
            subjects: vec![format!("{}.>", settings.subject_prefix)],
            ..Default::default()
        };
        jetstream
            .get_or_create_stream(config)
            .await
            .map_err(|e| format!("cannot create the JetStream stream {}: {e}", settings.stream))?;
        Ok(Self { jetstream, subject_prefix: settings.subject_prefix.to_owned() })
    }
}

#[async_trait]
impl EventPublisher for NatsEventPublisher {
    async fn publish(&self, event_type: EventType, event_id: Uuid, body: &[u8]) -> Result<(), String> {
        let subject = format!("{}.{}", self.subject_prefix, event_type.as_str());
        let message = PublishMessage::build().payload(body.to_vec().into()).message_id(event_id.to_string());
        let ack = self.jetstream.send_publish(subject, message).await.map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())?;
        Ok(())
    }
}
