//! alert-scaler: scales functions on AlertManager's alerts, scales idle functions to zero,
//! and explains every decision (`GET /system/scaling-decisions`).

pub mod config;
pub mod decision;
pub mod idler;
pub mod metrics;
pub mod policy;
pub mod prometheus;
pub mod routes;
pub mod scaler;
pub mod startup;

pub use config::Config;
pub use startup::Application;

/// An error and its causes, `: `-separated, for one log line or one response line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
