//! Dead letters: a call that failed its last attempt, stored with its original payload (so it
//! can be replayed as is) and NATS headers saying why.

use async_nats::jetstream::{self, context::Publish};
use async_nats::HeaderMap;
use bytes::Bytes;

use super::error::QueueError;
use super::name::QueueName;

/// NATS header names on dead-letter messages.
pub mod headers {
    /// The queue the call came from.
    pub const QUEUE: &str = "Faas-Queue";
    /// The function called (`Function` of the request), when the payload could be decoded.
    pub const FUNCTION: &str = "Faas-Function";
    /// The HTTP status of the last attempt; absent when no response was received.
    pub const STATUS: &str = "Faas-Last-Status";
    /// Why the last attempt failed, in words.
    pub const ERROR: &str = "Faas-Last-Error";
    /// How many times the call was attempted.
    pub const ATTEMPTS: &str = "Faas-Attempts";
    /// The sequence of the original message in the `faas-request` stream.
    pub const ORIGINAL_SEQUENCE: &str = "Faas-Original-Sequence";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub queue: QueueName,
    pub function: Option<String>,
    pub status: Option<u16>,
    pub error: String,
    pub attempts: u32,
    pub original_sequence: u64,
    /// The original message body (a `QueueRequest` as JSON, or whatever could not be decoded).
    pub payload: Bytes,
}

impl DeadLetter {
    pub fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(headers::QUEUE, self.queue.as_str());
        if let Some(f) = &self.function {
            h.insert(headers::FUNCTION, f.as_str());
        }
        if let Some(s) = self.status {
            h.insert(headers::STATUS, s.to_string().as_str());
        }
        // Header values are single lines.
        let error = self.error.replace(['\r', '\n'], " ");
        h.insert(headers::ERROR, error.as_str());
        h.insert(headers::ATTEMPTS, self.attempts.to_string().as_str());
        h.insert(
            headers::ORIGINAL_SEQUENCE,
            self.original_sequence.to_string().as_str(),
        );
        h
    }

    /// Reads a message of the dead-letter stream back.
    pub fn from_parts(headers: Option<&HeaderMap>, payload: Bytes) -> Self {
        let get = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
        };
        Self {
            queue: get(headers::QUEUE)
                .and_then(|q| QueueName::parse(&q).ok())
                .unwrap_or_default(),
            function: get(headers::FUNCTION),
            status: get(headers::STATUS).and_then(|s| s.parse().ok()),
            error: get(headers::ERROR).unwrap_or_default(),
            attempts: get(headers::ATTEMPTS)
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            original_sequence: get(headers::ORIGINAL_SEQUENCE)
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            payload,
        }
    }

    /// Stores the dead letter and waits for JetStream's acknowledgement. The message id is
    /// the original sequence, so a worker that dies between this and acking the original
    /// does not store the same dead letter twice (within the stream's duplicate window).
    pub async fn publish(&self, js: &jetstream::Context) -> Result<(), QueueError> {
        let publish = Publish::build()
            .headers(self.headers())
            .payload(self.payload.clone())
            .message_id(format!("dead-{}", self.original_sequence));
        let ack = js
            .send_publish(self.queue.dead_letter_subject(), publish)
            .await
            .map_err(|e| QueueError::jetstream("publishing a dead letter", e))?;
        ack.await
            .map_err(|e| QueueError::jetstream("publishing a dead letter", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let dl = DeadLetter {
            queue: QueueName::parse("slow").unwrap(),
            function: Some("figlet".into()),
            status: Some(503),
            error: "function answered 503".into(),
            attempts: 3,
            original_sequence: 42,
            payload: Bytes::from_static(b"{}"),
        };
        let back = DeadLetter::from_parts(Some(&dl.headers()), dl.payload.clone());
        assert_eq!(back, dl);
        let multi = DeadLetter {
            error: "a\nb".into(),
            status: None,
            function: None,
            ..dl
        };
        let back = DeadLetter::from_parts(Some(&multi.headers()), Bytes::new());
        assert_eq!(back.error, "a b");
        assert_eq!(back.status, None);
        assert_eq!(back.function, None);
    }
}
