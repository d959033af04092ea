//! provider-swarm: the OpenFaaS provider API over the Docker engine, running functions as
//! Swarm services or as plain containers.

pub mod config;
pub mod containers;
pub mod engine;
pub mod logs;
pub mod provider;
pub mod secrets;
pub mod spec;
pub mod startup;
pub mod swarm;

pub use config::Config;
pub use provider::DockerProvider;
pub use startup::Application;
