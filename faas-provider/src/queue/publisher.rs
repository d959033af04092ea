//! `Publisher`: enqueues a `QueueRequest` and returns only once JetStream has stored it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::{self, context::PublishErrorKind};
use async_nats::Client;

use super::error::QueueError;
use super::name::QueueName;
use super::streams::ensure_streams;
use crate::types::QueueRequest;

/// What the gateway holds: one per process, cheap to share (`Arc`) across requests.
#[derive(Debug)]
pub struct Publisher {
    client: Client,
    js: jetstream::Context,
    ack_timeout: Duration,
    /// Whether `ensure_streams` succeeded since the last publish failure; checked lazily so
    /// the gateway starts (and answers 503) while NATS is still down.
    streams_ready: AtomicBool,
}

impl Publisher {
    /// Connects to `url` (see [`super::nats_url`]) in the background: this returns at once,
    /// also while NATS is down, and the client reconnects for ever. Publishing waits at most
    /// `ack_timeout` for JetStream's acknowledgement.
    pub async fn connect(url: &str, ack_timeout: Duration) -> Result<Self, QueueError> {
        let client = super::connect(url, "ironfaas-gateway").await?;
        Ok(Self::new(client, ack_timeout))
    }

    pub fn new(client: Client, ack_timeout: Duration) -> Self {
        let mut js = jetstream::new(client.clone());
        js.set_timeout(ack_timeout);
        Self {
            client,
            js,
            ack_timeout,
            streams_ready: AtomicBool::new(false),
        }
    }

    /// Waits up to `limit` for the first connection, so a service that starts together with
    /// NATS does not refuse its first calls; returns whether it is connected. The client
    /// offers no awaitable "connected" event, so its state is sampled every 10 ms.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Whether the connection to NATS is up now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// The largest message the server accepts (`max_payload`), once connected.
    pub fn max_payload(&self) -> Option<usize> {
        Some(self.client.server_info().max_payload).filter(|m| *m > 0)
    }

    /// Publishes `request` to its queue's subject (its `QueueName`, or the default queue) and
    /// waits for JetStream's acknowledgement. `Ok` means the message is stored on disk;
    /// any error means the caller must not be told it was accepted. After an error the
    /// message may still have been stored (the ack can be lost), so a retrying caller may
    /// cause a duplicate call: delivery is at least once.
    pub async fn publish(&self, request: &QueueRequest) -> Result<(), QueueError> {
        let queue = QueueName::of(request)?;
        // Publishing while disconnected would be buffered by the client and could be stored
        // after we answered with an error; failing fast keeps that window small.
        if !self.is_connected() {
            return Err(QueueError::NotConnected);
        }
        let payload = serde_json::to_vec(request).map_err(|e| QueueError::Encode(e.to_string()))?;
        if let Some(max) = self.max_payload() {
            // The subject and protocol line travel in the same frame.
            if payload.len() + queue.subject().len() + 64 > max {
                return Err(QueueError::TooLarge {
                    size: payload.len(),
                    max,
                });
            }
        }
        let payload = bytes::Bytes::from(payload);
        match self.try_publish(&queue, payload.clone()).await {
            // Nothing was stored when no stream answered: create the streams and try again.
            Err(PublishFailure::NoStream) => {
                self.streams_ready.store(false, Ordering::Relaxed);
                match self.try_publish(&queue, payload).await {
                    Ok(()) => Ok(()),
                    Err(f) => Err(f.into_error(self.ack_timeout)),
                }
            }
            Err(f) => Err(f.into_error(self.ack_timeout)),
            Ok(()) => Ok(()),
        }
    }

    async fn try_publish(
        &self,
        queue: &QueueName,
        payload: bytes::Bytes,
    ) -> Result<(), PublishFailure> {
        if !self.streams_ready.load(Ordering::Relaxed) {
            ensure_streams(&self.js)
                .await
                .map_err(PublishFailure::Setup)?;
            self.streams_ready.store(true, Ordering::Relaxed);
        }
        let ack = self
            .js
            .publish(queue.subject(), payload)
            .await
            .map_err(PublishFailure::from)?;
        ack.await.map_err(PublishFailure::from)?;
        Ok(())
    }
}

enum PublishFailure {
    NoStream,
    TimedOut,
    Setup(QueueError),
    Other(String),
}

impl From<jetstream::context::PublishError> for PublishFailure {
    fn from(e: jetstream::context::PublishError) -> Self {
        match e.kind() {
            PublishErrorKind::StreamNotFound => Self::NoStream,
            PublishErrorKind::TimedOut => Self::TimedOut,
            _ => Self::Other(e.to_string()),
        }
    }
}

impl PublishFailure {
    fn into_error(self, ack_timeout: Duration) -> QueueError {
        match self {
            Self::NoStream => QueueError::jetstream("publishing", "no stream for the subject"),
            Self::TimedOut => QueueError::AckTimeout(ack_timeout),
            Self::Setup(e) => e,
            Self::Other(reason) => QueueError::jetstream("publishing", reason),
        }
    }
}
