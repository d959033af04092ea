//! alert-scaler integration tests: the real application in-process on port 0 against the
//! provider API over HTTP, real Prometheus and AlertManager processes.

mod alertmanager;
mod auth;
mod helpers;
mod idler;
mod webhook;
