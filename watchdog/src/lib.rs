//! `fwatchdog`, the OpenFaaS function watchdog: an HTTP server that turns a program into a
//! function. It behaves as the classic watchdog (fork per call, `fprocess` set, no `mode`) or
//! as of-watchdog (`mode=streaming|serializing|http|static`), and in http mode can run a pool
//! of pre-started workers. See `watchdog/README.md` for every variable.

pub mod call;
pub mod calls;
pub mod cgi;
pub mod cli;
pub mod config;
pub mod health;
pub mod lifecycle;
pub mod logs;
pub mod metrics;
pub mod modes;
pub mod pool;
pub mod process;
pub mod reaper;
pub mod sniff;
pub mod startup;
pub mod watchdog;

pub use config::{Config, Mode};
pub use startup::Application;
