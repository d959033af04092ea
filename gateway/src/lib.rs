//! The ironfaas gateway: the OpenFaaS REST API, the streaming invocation proxy, auth, metrics
//! and scale from zero.

pub mod alerts;
pub mod async_call;
pub mod balancer;
pub mod body;
pub mod config;
pub mod error;
pub mod headers;
pub mod info;
pub mod metrics;
pub mod poller;
pub mod prometheus;
pub mod provider;
pub mod proxy;
pub mod routes;
pub mod startup;
pub mod target;
pub mod ui;
pub mod ui_assets;

pub use config::Config;
pub use startup::{Application, Backends};
