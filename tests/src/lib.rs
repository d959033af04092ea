//! The ironfaas end-to-end harness: real Docker, NATS, Prometheus and Alertmanager behind RAII
//! guards, for the end-to-end tests of every crate (`e2e = { path = "../tests" }`).
//!
//! Setup helpers panic with a message saying what is missing and how to get it: a test that
//! needs real infrastructure must fail, never skip, when the infrastructure is not there.

pub mod docker;
pub mod images;
pub mod nats;
pub mod poll;
pub mod prometheus;
pub mod swarm;

mod process;
