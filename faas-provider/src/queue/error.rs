//! QueueError: every way enqueueing or setting up the queue fails, independent of HTTP.

use super::name::QueueNameError;

/// The gateway maps `TooLarge` to 413, `InvalidQueue` to 500 (a function's annotation is
/// wrong, not the caller's request), `Encode` to 500, and everything else to 503: the message
/// was not stored, and the caller may try again.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The NATS URL cannot be used (a configuration error, found at start-up).
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// Not connected to NATS right now (starting, reconnecting, or NATS is down).
    #[error("NATS is not connected")]
    NotConnected,
    /// JetStream did not acknowledge the message in time: it may or may not be stored.
    #[error("JetStream did not acknowledge the message within {0:?}")]
    AckTimeout(std::time::Duration),
    /// The server refused or failed the operation (no stream, storage full, JetStream off...).
    #[error("JetStream {operation} failed: {reason}")]
    JetStream {
        operation: &'static str,
        reason: String,
    },
    /// The encoded message exceeds the server's `max_payload`.
    #[error("the queued request is {size} bytes, more than NATS accepts ({max} bytes)")]
    TooLarge { size: usize, max: usize },
    #[error(transparent)]
    InvalidQueue(#[from] QueueNameError),
    #[error("cannot encode the queued request: {0}")]
    Encode(String),
}

impl QueueError {
    pub(crate) fn jetstream(operation: &'static str, error: impl std::fmt::Display) -> Self {
        Self::JetStream {
            operation,
            reason: error.to_string(),
        }
    }

    /// True when the message was not stored because NATS is unreachable or unhealthy: the
    /// gateway answers 503 and the caller may retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::NotConnected | Self::AckTimeout(_) | Self::JetStream { .. }
        )
    }
}
