//! The two JetStream streams: pending calls (a work queue) and dead letters, created once,
//! idempotently, by whichever side starts first.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use super::error::QueueError;

/// Pending async calls of every queue. Work-queue retention: a message is deleted once a
/// worker acknowledges it, so the stream holds exactly the calls not yet completed.
pub const REQUEST_STREAM: &str = "faas-request";

/// Calls that failed their last attempt, kept for inspection and replay.
pub const DEAD_LETTER_STREAM: &str = "faas-dead-letter";

/// How long dead letters are kept.
pub const DEAD_LETTER_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// The pending-calls stream: subjects `faas-request` (default queue) and `faas-request.<queue>`.
pub fn request_stream_config() -> stream::Config {
    stream::Config {
        name: REQUEST_STREAM.to_owned(),
        description: Some("ironfaas async calls not yet completed".to_owned()),
        subjects: vec![REQUEST_STREAM.to_owned(), format!("{REQUEST_STREAM}.>")],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        max_messages: -1,
        max_bytes: -1,
        max_consumers: -1,
        num_replicas: 1,
        ..Default::default()
    }
}

/// The dead-letter stream: subjects `faas-dead-letter.<queue>`, kept 14 days.
pub fn dead_letter_stream_config() -> stream::Config {
    stream::Config {
        name: DEAD_LETTER_STREAM.to_owned(),
        description: Some("ironfaas async calls that failed their last attempt".to_owned()),
        subjects: vec![format!("{DEAD_LETTER_STREAM}.>")],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: DEAD_LETTER_MAX_AGE,
        max_messages: -1,
        max_bytes: -1,
        max_consumers: -1,
        num_replicas: 1,
        ..Default::default()
    }
}

/// Creates both streams if they do not exist; an existing stream is left as it is (an
/// operator may have tuned its limits). Safe to call from every gateway and worker replica.
pub async fn ensure_streams(js: &jetstream::Context) -> Result<(), QueueError> {
    for config in [request_stream_config(), dead_letter_stream_config()] {
        js.get_or_create_stream(config)
            .await
            .map_err(|e| QueueError::jetstream("creating the streams", e))?;
    }
    Ok(())
}
