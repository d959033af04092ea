//! The alert-scaler's Prometheus metrics, in a registry owned by the application (not the
//! process-global recorder), so several applications in one test process stay apart.

use metrics::{describe_counter, with_local_recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use crate::decision::Direction;
use crate::policy::Reason;

pub const DECISIONS_TOTAL: &str = "alert_scaler_decisions_total";
pub const ALERTS_RECEIVED_TOTAL: &str = "alert_scaler_alerts_received_total";
pub const ERRORS_TOTAL: &str = "alert_scaler_errors_total";

/// A failed operation, the `operation` label of the errors metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    ProviderGet,
    ProviderList,
    ProviderScale,
    PrometheusQuery,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::ProviderGet => "provider_get",
            Operation::ProviderList => "provider_list",
            Operation::ProviderScale => "provider_scale",
            Operation::PrometheusQuery => "prometheus_query",
        }
    }
}

pub struct Metrics {
    recorder: PrometheusRecorder,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        with_local_recorder(&recorder, || {
            describe_counter!(
                DECISIONS_TOTAL,
                "Scaling decisions by direction (up, down, none) and reason; see GET /system/scaling-decisions."
            );
            describe_counter!(
                ALERTS_RECEIVED_TOTAL,
                "Alerts received from AlertManager, by status (firing, resolved, other)."
            );
            describe_counter!(ERRORS_TOTAL, "Failed calls, by operation.");
        });
        Self { recorder }
    }

    pub fn decision(&self, direction: Direction, reason: Reason) {
        with_local_recorder(&self.recorder, || {
            metrics::counter!(DECISIONS_TOTAL, "direction" => direction.as_str(), "reason" => reason.as_str())
                .increment(1);
        });
    }

    pub fn alert_received(&self, status: &str) {
        // Bounded: AlertManager sends only these two.
        let status = match status {
            "firing" => "firing",
            "resolved" => "resolved",
            _ => "other",
        };
        with_local_recorder(&self.recorder, || {
            metrics::counter!(ALERTS_RECEIVED_TOTAL, "status" => status).increment(1);
        });
    }

    pub fn error(&self, operation: Operation) {
        with_local_recorder(&self.recorder, || {
            metrics::counter!(ERRORS_TOTAL, "operation" => operation.as_str()).increment(1);
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}
