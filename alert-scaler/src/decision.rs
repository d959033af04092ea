//! Scaling decisions (taken, not taken, failed) with their reasons, kept in a bounded history
//! per function and counted in the metrics.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::policy::Reason;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    AlertFiring,
    AlertResolved,
    Idle,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    None,
}

impl Direction {
    pub fn between(before: Option<u64>, after: Option<u64>) -> Self {
        match (before, after) {
            (Some(b), Some(a)) if a > b => Direction::Up,
            (Some(b), Some(a)) if a < b => Direction::Down,
            _ => Direction::None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::None => "none",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The provider was asked to scale and accepted.
    Applied,
    /// Nothing to do, or something held it back; `reason` says which.
    NotTaken,
    /// The provider refused or could not be reached.
    Failed,
}

/// One decision as `GET /system/scaling-decisions` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub time: DateTime<Utc>,
    pub function: String,
    pub trigger: Trigger,
    /// The alert's `alertname`, for alert triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// `None` when the provider could not say.
    pub replicas_before: Option<u64>,
    /// What the function has after the decision (`before` when nothing changed).
    pub replicas_after: Option<u64>,
    pub direction: Direction,
    pub outcome: Outcome,
    /// Machine-readable reason, also the metric's `reason` label.
    pub code: Reason,
    /// The explanation, e.g. `APIHighInvocationRate firing: 1 + ceil(20*20/100)=5 (max 20)`.
    pub reason: String,
}

/// Most functions tracked at once; beyond it the one with the oldest latest decision is
/// forgotten, so alerts naming ever new functions cannot grow memory without bound.
const MAX_FUNCTIONS: usize = 10_000;

/// A ring buffer of the last `capacity` decisions per function.
pub struct DecisionLog {
    capacity: usize,
    by_function: Mutex<HashMap<String, VecDeque<Decision>>>,
    metrics: Arc<Metrics>,
}

impl DecisionLog {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            capacity: capacity.max(1),
            by_function: Mutex::default(),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Decision>>> {
        // The map stays consistent even if a holder panicked: each update is one push/pop.
        self.by_function.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `d`, counts it and logs it (applied at INFO, failed at WARN, not taken at DEBUG).
    pub fn record(&self, d: Decision) {
        self.metrics.decision(d.direction, d.code);
        let (function, trigger, code) = (&d.function, d.trigger, d.code.as_str());
        let (before, after) = (d.replicas_before, d.replicas_after);
        match d.outcome {
            Outcome::Applied => {
                tracing::info!(
                    function,
                    ?trigger,
                    ?before,
                    ?after,
                    reason = code,
                    "{}",
                    d.reason
                )
            }
            Outcome::Failed => {
                tracing::warn!(
                    function,
                    ?trigger,
                    ?before,
                    ?after,
                    reason = code,
                    "{}",
                    d.reason
                )
            }
            Outcome::NotTaken => {
                tracing::debug!(
                    function,
                    ?trigger,
                    ?before,
                    ?after,
                    reason = code,
                    "{}",
                    d.reason
                )
            }
        }
        let mut map = self.lock();
        if !map.contains_key(&d.function) && map.len() >= MAX_FUNCTIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, ring)| ring.back().map(|d| d.time))
                .map(|(name, _)| name.clone());
            if let Some(name) = oldest {
                map.remove(&name);
            }
        }
        let ring = map.entry(d.function.clone()).or_default();
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        ring.push_back(d);
    }

    /// A function's decisions, newest first.
    pub fn for_function(&self, function: &str) -> Vec<Decision> {
        self.lock()
            .get(function)
            .map(|ring| ring.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Every function's decisions, newest first.
    pub fn all(&self) -> Vec<Decision> {
        let mut all: Vec<Decision> = self.lock().values().flatten().cloned().collect();
        all.sort_by_key(|d| std::cmp::Reverse(d.time));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(function: &str, secs: i64, code: Reason) -> Decision {
        Decision {
            time: DateTime::from_timestamp(secs, 0).unwrap(),
            function: function.into(),
            trigger: Trigger::AlertFiring,
            alert: Some("APIHighInvocationRate".into()),
            replicas_before: Some(1),
            replicas_after: Some(5),
            direction: Direction::Up,
            outcome: Outcome::Applied,
            code,
            reason: "r".into(),
        }
    }

    #[test]
    fn ring_keeps_the_newest_per_function() {
        let metrics = Arc::new(Metrics::new());
        let log = DecisionLog::new(3, metrics.clone());
        for i in 0..5 {
            log.record(decision("a", i, Reason::FiringStep));
        }
        log.record(decision("b", 10, Reason::FiringCapped));
        let a: Vec<i64> = log
            .for_function("a")
            .iter()
            .map(|d| d.time.timestamp())
            .collect();
        assert_eq!(a, vec![4, 3, 2]);
        assert_eq!(log.all().len(), 4);
        assert_eq!(log.all()[0].function, "b");
        assert!(log.for_function("c").is_empty());
        let text = metrics.render();
        assert!(
            text.contains(r#"alert_scaler_decisions_total{direction="up",reason="firing_step"} 5"#),
            "{text}"
        );
    }

    #[test]
    fn directions() {
        assert_eq!(Direction::between(Some(1), Some(5)), Direction::Up);
        assert_eq!(Direction::between(Some(5), Some(0)), Direction::Down);
        assert_eq!(Direction::between(Some(5), Some(5)), Direction::None);
        assert_eq!(Direction::between(None, None), Direction::None);
    }

    #[test]
    fn serializes_as_documented() {
        let v = serde_json::to_value(decision("a", 0, Reason::FiringStep)).unwrap();
        assert_eq!(v["trigger"], "alert_firing");
        assert_eq!(v["code"], "firing_step");
        assert_eq!(v["replicasBefore"], 1);
        assert_eq!(v["outcome"], "applied");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
    }
}
