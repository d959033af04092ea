//! Scale to zero: every `reconcile_interval`, functions labelled `com.openfaas.scale.zero=true`
//! with no call for their zero-duration, nothing in flight, metrics covering the whole
//! zero-duration and no recent change go to 0 replicas, judged from the gateway's metrics in
//! Prometheus. The gateway's scale from zero wakes them on the next call.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use faas_provider::{FunctionName, FunctionRef};

use crate::chain;
use crate::metrics::{Metrics, Operation};
use crate::policy::{self, Activity, IdlePlan, Reason};
use crate::prometheus::{PrometheusClient, QueryError, Sample};
use crate::scaler::Scaler;

const CALLS: &str = "gateway_function_invocation_total";
const SERVICES: &str = "gateway_service_count";

/// Functions with a call completed within `window`, by `function_name`.
///
/// Not `increase(x[window]) > 0`, for two reasons. `increase` only sees a change when the
/// sample before it is still inside the window, so it reports "no call" up to one scrape
/// interval before `window` has passed since the last call; comparing the value now with the
/// value `window` ago does not. And a counter born inside the window (the first call since
/// the gateway started: it appears at 1) has no increase at all; the `unless ... offset`
/// branch counts such series as calls. That branch also makes every function look called
/// while Prometheus holds less than `window` of history, so a restarted Prometheus zeroes
/// nothing before it has seen a whole window. A counter reset (gateway restart) is a
/// non-zero difference too, hence `!= 0`.
pub fn calls_query(window: Duration) -> String {
    let w = format!("{}ms", window.as_millis().max(1));
    format!(
        "count by (function_name) (({CALLS} - {CALLS} offset {w}) != 0 \
         or ({CALLS} unless {CALLS} offset {w}))"
    )
}

/// Functions whose `gateway_service_count` (set for every function on every scrape, by the
/// gateway's poller) is in Prometheus now and `window` ago: the gateway has been scraped
/// across the window, so an absence of calls is real rather than an absence of data.
pub fn observed_query(window: Duration) -> String {
    let w = format!("{}ms", window.as_millis().max(1));
    format!("count by (function_name) ({SERVICES} and {SERVICES} offset {w})")
}

/// Calls in flight at the last scrape, summed over gateway replicas.
pub const IN_FLIGHT_QUERY: &str =
    "sum by (function_name) (gateway_function_invocations_in_flight) > 0";

pub struct Idler {
    scaler: Arc<Scaler>,
    prometheus: PrometheusClient,
    metrics: Arc<Metrics>,
    interval: Duration,
    /// The last hold recorded per function, so one that stays held is explained once.
    held: HashMap<FunctionName, Reason>,
}

impl Idler {
    pub fn new(
        scaler: Arc<Scaler>,
        prometheus: PrometheusClient,
        metrics: Arc<Metrics>,
        interval: Duration,
    ) -> Self {
        Self {
            scaler,
            prometheus,
            metrics,
            interval,
            held: HashMap::new(),
        }
    }

    /// Reconciles every interval (the first at once) until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                _ = tick.tick() => self.reconcile(Utc::now()).await,
                () = &mut shutdown => return,
            }
        }
    }

    /// One pass over the opted-in functions.
    pub async fn reconcile(&mut self, now: DateTime<Utc>) {
        let candidates = match self.scaler.zero_candidates(now).await {
            Ok(c) => c,
            Err(error) => {
                tracing::warn!(%error, "idler: cannot list functions");
                return;
            }
        };
        let names: HashSet<&FunctionName> = candidates.iter().map(|c| &c.name).collect();
        self.held.retain(|name, _| names.contains(name));
        if candidates.iter().all(|c| c.replicas == 0) {
            return;
        }
        let in_flight = match self.in_flight().await {
            Ok(m) => m,
            Err(error) => return self.query_failed(&error),
        };
        let windows: BTreeSet<Duration> =
            candidates.iter().map(|c| c.limits.zero_duration).collect();
        let mut called: HashMap<Duration, HashSet<FunctionName>> = HashMap::new();
        let mut observed: HashMap<Duration, HashSet<FunctionName>> = HashMap::new();
        for window in windows {
            let (calls, coverage) = (calls_query(window), observed_query(window));
            let both = tokio::join!(self.functions(&calls), self.functions(&coverage));
            match both {
                (Ok(c), Ok(o)) => {
                    called.insert(window, c);
                    observed.insert(window, o);
                }
                (Err(error), _) | (_, Err(error)) => return self.query_failed(&error),
            }
        }
        for c in candidates {
            let within = |sets: &HashMap<Duration, HashSet<FunctionName>>| {
                sets.get(&c.limits.zero_duration)
                    .is_some_and(|set| set.contains(&c.name))
            };
            let activity = Activity {
                replicas: c.replicas,
                observed: within(&observed),
                recent_calls: within(&called),
                in_flight: in_flight.get(&c.name).copied().unwrap_or(0),
                last_change: Some(c.last_change),
            };
            match policy::plan_idle(now, &activity, &c.limits) {
                IdlePlan::Ignore => {
                    self.held.remove(&c.name);
                }
                IdlePlan::Hold { reason, message } => {
                    if self.held.insert(c.name.clone(), reason) != Some(reason) {
                        self.scaler.hold(&c, reason, message);
                    }
                }
                IdlePlan::ScaleToZero { message } => {
                    self.held.remove(&c.name);
                    // A failure is recorded as a decision and retried next time.
                    let _ = self.scaler.scale_to_zero(&c, message).await;
                }
            }
        }
    }

    fn query_failed(&self, error: &QueryError) {
        self.metrics.error(Operation::PrometheusQuery);
        tracing::warn!(error = %chain(error), "idler: Prometheus query failed; nothing scaled to zero this time");
    }

    /// The functions named by a query's `function_name`s.
    async fn functions(&self, query: &str) -> Result<HashSet<FunctionName>, QueryError> {
        let samples = self.prometheus.query(query).await?;
        Ok(samples.iter().filter_map(|s| self.function_of(s)).collect())
    }

    async fn in_flight(&self) -> Result<HashMap<FunctionName, u64>, QueryError> {
        let samples = self.prometheus.query(IN_FLIGHT_QUERY).await?;
        let mut out: HashMap<FunctionName, u64> = HashMap::new();
        for s in &samples {
            if let Some(name) = self.function_of(s) {
                // Both label forms (`f`, `f.ns`) may be present; they add up.
                *out.entry(name).or_default() += s.value.max(0.0).ceil() as u64;
            }
        }
        Ok(out)
    }

    /// `function_name` is `name` or `name.namespace` (CONTRACT.md §3.1); other namespaces
    /// are not ours.
    fn function_of(&self, sample: &Sample) -> Option<FunctionName> {
        let label = sample.labels.get("function_name")?;
        let r = FunctionRef::parse(label).ok()?;
        match r.namespace {
            Some(ns) if ns != self.scaler.namespace() => None,
            _ => Some(r.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(
            calls_query(Duration::from_secs(900)),
            "count by (function_name) ((gateway_function_invocation_total - gateway_function_invocation_total offset 900000ms) != 0 \
             or (gateway_function_invocation_total unless gateway_function_invocation_total offset 900000ms))"
        );
        assert!(calls_query(Duration::ZERO).contains("offset 1ms"));
        assert_eq!(
            observed_query(Duration::from_secs(4)),
            "count by (function_name) (gateway_service_count and gateway_service_count offset 4000ms)"
        );
    }
}
