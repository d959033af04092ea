//! The worker's Prometheus metrics, in a registry of its own per `Application` (so tests
//! running several workers in one process do not share counters).

use std::sync::Arc;
use std::time::Duration;

use metrics::{counter, gauge, histogram, with_local_recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

const CALL_DURATION: &str = "queue_worker_call_duration_seconds";
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // Only fails for an empty bucket list, which BUCKETS is not.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(CALL_DURATION.into()), BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        Self {
            recorder: Arc::new(builder.build_recorder()),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        with_local_recorder(self.recorder.as_ref(), f)
    }

    pub fn received(&self, queue: &str) {
        self.with(|| counter!("queue_worker_messages_received_total", "queue" => queue.to_owned()))
            .increment(1);
    }

    pub fn succeeded(&self, function: &str) {
        self.with(|| {
            counter!("queue_worker_calls_succeeded_total", "function_name" => function.to_owned())
        })
        .increment(1);
    }

    /// A final answer that is not retried (a 4xx, or a status not in the retry list).
    pub fn failed(&self, function: &str, code: u16) {
        self.with(|| {
            counter!("queue_worker_calls_failed_total",
                "function_name" => function.to_owned(), "code" => code.to_string())
        })
        .increment(1);
    }

    pub fn retried(&self, function: &str, code: u16) {
        self.with(|| {
            counter!("queue_worker_calls_retried_total",
                "function_name" => function.to_owned(), "code" => code.to_string())
        })
        .increment(1);
    }

    pub fn dead_lettered(&self, function: &str) {
        self.with(|| {
            counter!("queue_worker_calls_dead_lettered_total",
                "function_name" => function.to_owned())
        })
        .increment(1);
    }

    pub fn inflight(&self, queue: &str, delta: f64) {
        self.with(|| gauge!("queue_worker_calls_inflight", "queue" => queue.to_owned()))
            .increment(delta);
    }

    pub fn call_duration(&self, function: &str, code: u16, took: Duration) {
        self.with(|| {
            histogram!(CALL_DURATION,
                "function_name" => function.to_owned(), "code" => code.to_string())
        })
        .record(took.as_secs_f64());
    }

    /// `result`: `delivered` or `failed` (all attempts used).
    pub fn callback(&self, result: &'static str) {
        self.with(|| counter!("queue_worker_callbacks_total", "result" => result))
            .increment(1);
    }

    /// From the consumer's info: messages not yet delivered, and delivered but not acked
    /// (running, or waiting for a retry).
    pub fn pending(&self, queue: &str, pending: u64, ack_pending: u64) {
        self.with(|| gauge!("queue_worker_pending_messages", "queue" => queue.to_owned()))
            .set(pending as f64);
        self.with(|| gauge!("queue_worker_ack_pending_messages", "queue" => queue.to_owned()))
            .set(ack_pending as f64);
    }
}
