//! The async-invocation queue on NATS JetStream, defined once for its publisher (the gateway)
//! and its consumer (the queue-worker): stream, subject and consumer names, stream set-up,
//! the publisher, and the dead-letter format.
//!
//! Layout: one work-queue stream `faas-request` (file storage) holds every pending call; the
//! default queue's subject is `faas-request`, a named queue's (annotation
//! `com.openfaas.queue: <q>`) is `faas-request.<q>`. Each queue has one durable pull consumer,
//! `<q>-workers`, shared by all its workers. Failed calls go to the `faas-dead-letter` stream
//! on `faas-dead-letter.<q>`. The payload is the `QueueRequest` as JSON, unchanged, with no
//! NATS headers: attempts are counted by JetStream's own delivery counter.

mod dead_letter;
mod error;
mod name;
mod publisher;
mod streams;

pub use dead_letter::{headers as dead_letter_headers, DeadLetter};
pub use error::QueueError;
pub use name::{QueueName, QueueNameError, DEFAULT_QUEUE, MAX_QUEUE_LEN, QUEUE_ANNOTATION};
pub use publisher::Publisher;
pub use streams::{
    dead_letter_stream_config, ensure_streams, request_stream_config, DEAD_LETTER_MAX_AGE,
    DEAD_LETTER_STREAM, REQUEST_STREAM,
};

/// `nats://<address>:<port>`, from OpenFaaS's `faas_nats_address` and `faas_nats_port`.
pub fn nats_url(address: &str, port: u16) -> String {
    format!("nats://{address}:{port}")
}

/// Connects in the background: returns at once, also while NATS is down, and the client
/// reconnects for ever, so a service may start before NATS and survives NATS restarts.
pub async fn connect(url: &str, client_name: &str) -> Result<async_nats::Client, QueueError> {
    async_nats::ConnectOptions::new()
        .name(client_name)
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|e| QueueError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}
