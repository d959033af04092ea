//! ironfaas's shared library: OpenFaaS wire types, the `Provider` trait, the provider HTTP API
//! and client, an in-memory provider, and the plumbing every service starts with.

pub mod api;
pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod config;
pub mod duration;
pub mod error;
pub mod healthcheck;
pub mod memory;
pub mod name;
pub mod provider;
#[cfg(feature = "nats")]
pub mod queue;
pub mod serde_util;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod types;

pub use error::ProviderError;
pub use name::{FunctionName, FunctionRef};
pub use provider::{LogStream, Provider};

/// The default (and only) function namespace, as current faas-cli assumes.
pub const DEFAULT_NAMESPACE: &str = "openfaas-fn";
