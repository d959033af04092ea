//! Gateway integration tests: the real application in-process on port 0, the provider API over
//! HTTP, and real HTTP servers as function replicas.

mod async_call;
mod auth;
mod balancing;
mod helpers;
mod metrics;
mod proxy;
mod scale_from_zero;
mod streaming;
mod system;
