//! The ironfaas queue-worker: consumes async calls from NATS JetStream, calls the functions,
//! retries, dead-letters and reports them to callbacks.

pub mod callback;
pub mod config;
pub mod consumer;
pub mod handler;
pub mod invoker;
pub mod metrics;
pub mod report;
pub mod retry;
pub mod startup;

pub use config::Config;
pub use startup::{Application, StartupError};
