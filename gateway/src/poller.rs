//! The service poller: every 5 s, each function's desired replicas into `gateway_service_count`
//! (as OpenFaaS's `StartServiceWatcher`), and histogram upkeep.

use std::sync::Arc;
use std::time::Duration;

use faas_provider::Provider;

use crate::error::chain;
use crate::metrics::Metrics;

pub const INTERVAL: Duration = Duration::from_secs(5);

/// Runs until dropped; the first poll is immediate.
pub async fn run(provider: Arc<dyn Provider>, metrics: Arc<Metrics>, namespace: String) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        poll_once(provider.as_ref(), &metrics, &namespace).await;
        metrics.upkeep();
    }
}

async fn poll_once(provider: &dyn Provider, metrics: &Metrics, namespace: &str) {
    match provider.list().await {
        Ok(list) => metrics.set_services(
            list.iter()
                .map(|s| {
                    let ns = if s.namespace.is_empty() {
                        namespace
                    } else {
                        &s.namespace
                    };
                    (format!("{}.{ns}", s.name), s.replicas)
                })
                .collect(),
        ),
        // The last poll's values stay until the provider answers again.
        Err(e) => {
            tracing::warn!(error = %chain(&e), "listing functions for gateway_service_count failed")
        }
    }
}
