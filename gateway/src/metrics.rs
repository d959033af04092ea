//! The gateway's Prometheus metrics (CONTRACT.md §3.1), one registry per `Application`.
//!
//! The recorder is used directly rather than installed globally, so applications in one process
//! (tests) never share counters. `gateway_service_count` is rendered from the poller's latest
//! snapshot so a deleted function's series disappears, as in OpenFaaS.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub const INVOCATION_TOTAL: &str = "gateway_function_invocation_total";
pub const FUNCTIONS_SECONDS: &str = "gateway_functions_seconds";
pub const INVOCATION_STARTED: &str = "gateway_function_invocation_started";
pub const IN_FLIGHT: &str = "gateway_function_invocations_in_flight";
pub const COLD_START_SECONDS: &str = "gateway_cold_start_seconds";
pub const SERVICE_COUNT: &str = "gateway_service_count";

/// Prometheus client defaults, as OpenFaaS's histogram uses.
const CALL_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Cold starts take from a fraction of a second to minutes (image pulls).
const COLD_START_BUCKETS: [f64; 11] =
    [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    functions: RwLock<HashMap<String, Arc<FunctionMetrics>>>,
    /// `(function_name, replicas)` from the last poll of the provider.
    services: Mutex<Vec<(String, u64)>>,
}

impl Metrics {
    pub fn new() -> Result<Self, BuildError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(FUNCTIONS_SECONDS.into()), &CALL_BUCKETS)?
            .set_buckets_for_metric(
                Matcher::Full(COLD_START_SECONDS.into()),
                &COLD_START_BUCKETS,
            )?
            .build_recorder();
        let describe = [
            (
                INVOCATION_TOTAL,
                "Function invocations completed, by status code",
            ),
            (
                INVOCATION_STARTED,
                "Function invocations about to be forwarded",
            ),
        ];
        for (name, help) in describe {
            recorder.describe_counter(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
        }
        recorder.describe_gauge(
            KeyName::from_const_str(IN_FLIGHT),
            None,
            SharedString::const_str("Function invocations in progress"),
        );
        recorder.describe_histogram(
            KeyName::from_const_str(FUNCTIONS_SECONDS),
            None,
            SharedString::const_str("Seconds spent in function invocations, by status code"),
        );
        recorder.describe_histogram(
            KeyName::from_const_str(COLD_START_SECONDS),
            None,
            SharedString::const_str(
                "Seconds a function took to get a ready replica after scaling from zero",
            ),
        );
        let handle = recorder.handle();
        Ok(Self {
            recorder: Arc::new(recorder),
            handle,
            functions: RwLock::default(),
            services: Mutex::default(),
        })
    }

    /// The metrics of one function, registered on first use.
    pub fn function(&self, label: &str) -> Arc<FunctionMetrics> {
        if let Some(m) = self
            .functions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(label)
        {
            return m.clone();
        }
        let mut map = self
            .functions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.entry(label.to_owned())
            .or_insert_with(|| Arc::new(FunctionMetrics::new(self.recorder.clone(), label)))
            .clone()
    }

    /// Replaces the `gateway_service_count` series with the latest poll.
    pub fn set_services(&self, services: Vec<(String, u64)>) {
        *self.services.lock().unwrap_or_else(PoisonError::into_inner) = services;
    }

    /// Folds buffered histogram samples so memory stays bounded between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut text = self.handle.render();
        let services = self.services.lock().unwrap_or_else(PoisonError::into_inner);
        if !services.is_empty() {
            text.push_str("# HELP gateway_service_count Desired replicas of each function\n");
            text.push_str("# TYPE gateway_service_count gauge\n");
            for (name, replicas) in services.iter() {
                let _ = writeln!(
                    text,
                    "{SERVICE_COUNT}{{function_name=\"{}\"}} {replicas}",
                    escape(name)
                );
            }
            text.push('\n');
        }
        text
    }
}

/// The metrics listener: `/metrics` (any method, as promhttp) and `GET /healthz`.
pub fn configure(metrics: Arc<Metrics>) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
    use actix_web::{web, HttpResponse};
    move |cfg| {
        cfg.app_data(web::Data::from(metrics))
            .service(
                web::resource("/metrics").to(|m: web::Data<Metrics>| async move {
                    HttpResponse::Ok()
                        .content_type("text/plain; version=0.0.4; charset=utf-8")
                        .body(m.render())
                }),
            )
            .service(
                web::resource("/healthz")
                    .route(web::get().to(|| async { HttpResponse::Ok().body("OK") })),
            );
    }
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Handles for one `function_name`, so a call costs no registry look-up but the per-code one.
pub struct FunctionMetrics {
    recorder: Arc<PrometheusRecorder>,
    label: String,
    started: Counter,
    in_flight: Gauge,
    /// Registered on the first cold start, so functions that never had one add no series.
    cold_start: OnceLock<Histogram>,
    by_code: RwLock<HashMap<u16, (Counter, Histogram)>>,
}

impl FunctionMetrics {
    fn new(recorder: Arc<PrometheusRecorder>, label: &str) -> Self {
        let key = |name: &'static str| {
            Key::from_parts(name, vec![Label::new("function_name", label.to_owned())])
        };
        Self {
            started: recorder.register_counter(&key(INVOCATION_STARTED), &METADATA),
            in_flight: recorder.register_gauge(&key(IN_FLIGHT), &METADATA),
            cold_start: OnceLock::new(),
            recorder,
            label: label.to_owned(),
            by_code: RwLock::default(),
        }
    }

    pub fn started(&self) {
        self.started.increment(1);
        self.in_flight.increment(1.0);
    }

    /// A started call ended with `code` after `seconds`.
    pub fn completed(&self, code: u16, seconds: f64) {
        self.in_flight.decrement(1.0);
        let cached = self
            .by_code
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&code)
            .cloned();
        let (total, histogram) = match cached {
            Some(pair) => pair,
            None => {
                let labels = || {
                    vec![
                        Label::new("function_name", self.label.clone()),
                        Label::new("code", code.to_string()),
                    ]
                };
                let pair = (
                    self.recorder
                        .register_counter(&Key::from_parts(INVOCATION_TOTAL, labels()), &METADATA),
                    self.recorder.register_histogram(
                        &Key::from_parts(FUNCTIONS_SECONDS, labels()),
                        &METADATA,
                    ),
                );
                self.by_code
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(code)
                    .or_insert(pair)
                    .clone()
            }
        };
        total.increment(1);
        histogram.record(seconds);
    }

    pub fn cold_start(&self, seconds: f64) {
        self.cold_start
            .get_or_init(|| {
                let key = Key::from_parts(
                    COLD_START_SECONDS,
                    vec![Label::new("function_name", self.label.clone())],
                );
                self.recorder.register_histogram(&key, &METADATA)
            })
            .record(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openfaas_names() {
        let m = Metrics::new().unwrap();
        let f = m.function("echo.openfaas-fn");
        f.started();
        f.completed(200, 0.02);
        f.cold_start(1.5);
        m.set_services(vec![("echo.openfaas-fn".into(), 2)]);
        let text = m.render();
        for want in [
            "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"200\"} 1",
            "gateway_function_invocation_started{function_name=\"echo.openfaas-fn\"} 1",
            "gateway_function_invocations_in_flight{function_name=\"echo.openfaas-fn\"} 0",
            "gateway_functions_seconds_bucket{function_name=\"echo.openfaas-fn\",code=\"200\",le=\"0.025\"} 1",
            "gateway_cold_start_seconds_bucket{function_name=\"echo.openfaas-fn\",le=\"2.5\"} 1",
            "# TYPE gateway_service_count gauge",
            "gateway_service_count{function_name=\"echo.openfaas-fn\"} 2",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        m.set_services(Vec::new());
        assert!(!m.render().contains("gateway_service_count"));
    }

    #[test]
    fn applications_do_not_share_metrics() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.function("x.ns").started();
        assert!(!b.render().contains("x.ns"));
    }
}
