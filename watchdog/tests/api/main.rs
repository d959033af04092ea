//! The watchdog against real processes: every mode, the CGI environment, timeouts, limits, the
//! worker pool, static files, health and graceful shutdown; the real binary for memory and
//! SIGTERM.

mod binary;
mod classic;
mod helpers;
mod http_mode;
mod lifecycle;
mod serializing;
mod static_mode;
mod streaming;
