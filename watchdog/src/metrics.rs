//! Prometheus metrics for the function route, as the Go watchdogs' promhttp instrumentation
//! exposes them on :8081: `http_requests_total{code,method}`,
//! `http_request_duration_seconds{code,method}` (default buckets) and `http_requests_in_flight`.
//!
//! Each application owns its recorder (nothing is installed globally), so several watchdogs can
//! run in one test process. `method` is lower case, as promhttp's `sanitizeMethod` writes it.

use std::time::Duration;

use actix_web::http::Method;
use metrics::{Gauge, Key, KeyName, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    BuildError, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Prometheus client_golang's `DefBuckets`.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";
const IN_FLIGHT: &str = "http_requests_in_flight";
static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    in_flight: Gauge,
}

impl Metrics {
    pub fn new() -> Result<Self, BuildError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)?
            .build_recorder();
        let describe =
            |name: &'static str, help: &'static str| (KeyName::from_const_str(name), help.into());
        let (name, help) = describe(REQUESTS, "Total number of HTTP requests made.");
        recorder.describe_counter(name, None, help);
        let (name, help) = describe(DURATION, "Seconds spent serving HTTP requests.");
        recorder.describe_histogram(name, None, help);
        let (name, help) = describe(IN_FLIGHT, "The number of requests currently being served.");
        recorder.describe_gauge(name, None, help);
        let in_flight = recorder.register_gauge(&Key::from_static_name(IN_FLIGHT), &METADATA);
        in_flight.set(0.0);
        Ok(Self {
            handle: recorder.handle(),
            recorder,
            in_flight,
        })
    }

    pub fn call_started(&self) {
        self.in_flight.increment(1.0);
    }

    /// Counts a finished call and its duration.
    pub fn call_finished(&self, method: &Method, code: u16, elapsed: Duration) {
        self.in_flight.decrement(1.0);
        let labels = [
            Label::new("code", code.to_string()),
            Label::new("method", method.as_str().to_ascii_lowercase()),
        ];
        self.recorder
            .register_counter(&Key::from_parts(REQUESTS, labels.to_vec()), &METADATA)
            .increment(1);
        self.recorder
            .register_histogram(&Key::from_parts(DURATION, labels.to_vec()), &METADATA)
            .record(elapsed.as_secs_f64());
    }

    /// The exposition text for `GET /metrics`.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded samples into the histograms, so memory stays flat between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_watchdog_series() {
        let m = Metrics::new().unwrap();
        m.call_started();
        m.call_started();
        m.call_finished(&Method::POST, 200, Duration::from_millis(20));
        let text = m.render();
        for want in [
            "http_requests_in_flight 1",
            r#"http_requests_total{code="200",method="post"} 1"#,
            r#"http_request_duration_seconds_bucket{code="200",method="post",le="0.025"} 1"#,
            r#"http_request_duration_seconds_count{code="200",method="post"} 1"#,
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
    }
}
