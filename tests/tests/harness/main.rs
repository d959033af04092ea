//! Proves the e2e harness against the real Docker engine, nats-server, Prometheus and
//! Alertmanager: every guard comes up, works, and leaves nothing behind.

mod docker;
mod nats;
mod prometheus;
mod swarm;
