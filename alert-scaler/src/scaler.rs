//! Applies the policy through the provider, one function at a time under one lock, and
//! records every outcome as a decision.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use faas_provider::types::Alert;
use faas_provider::{FunctionName, FunctionRef, Provider, ProviderError};

use crate::decision::{Decision, DecisionLog, Direction, Outcome, Trigger};
use crate::metrics::{Metrics, Operation};
use crate::policy::{self, Defaults, Limits, Plan, Reason};

/// The provider refused a scale call; the webhook reports it as `[<index>] <error>`.
#[derive(Debug, thiserror::Error)]
#[error("scaling {function} from {from} to {to} replicas")]
pub struct ScaleError {
    pub function: String,
    pub from: u64,
    pub to: u64,
    #[source]
    pub source: ProviderError,
}

/// A function opted in to scale to zero, as the idler sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub name: FunctionName,
    pub replicas: u64,
    pub limits: Limits,
    /// The latest of: created, replicas seen changing, scaled by us, first seen by us.
    pub last_change: DateTime<Utc>,
}

/// The replica count last seen for a function and since when it has been that.
#[derive(Clone, Copy, Debug)]
struct Seen {
    replicas: u64,
    since: DateTime<Utc>,
}

pub struct Scaler {
    provider: Arc<dyn Provider>,
    namespace: String,
    defaults: Defaults,
    decisions: Arc<DecisionLog>,
    metrics: Arc<Metrics>,
    /// Serialises read-decide-scale, so the webhook and the idler never act on a stale count.
    lock: tokio::sync::Mutex<()>,
    seen: Mutex<HashMap<FunctionName, Seen>>,
}

/// The parts of a decision known before the outcome.
struct Draft {
    function: String,
    trigger: Trigger,
    alert: Option<String>,
}

impl Draft {
    fn decide(
        &self,
        before: Option<u64>,
        after: Option<u64>,
        outcome: Outcome,
        code: Reason,
        reason: String,
    ) -> Decision {
        Decision {
            time: Utc::now(),
            function: self.function.clone(),
            trigger: self.trigger,
            alert: self.alert.clone(),
            replicas_before: before,
            replicas_after: after,
            direction: Direction::between(before, after),
            outcome,
            code,
            reason,
        }
    }
}

impl Scaler {
    pub fn new(
        provider: Arc<dyn Provider>,
        namespace: String,
        defaults: Defaults,
        decisions: Arc<DecisionLog>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            provider,
            namespace,
            defaults,
            decisions,
            metrics,
            lock: tokio::sync::Mutex::new(()),
            seen: Mutex::default(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn seen(&self) -> MutexGuard<'_, HashMap<FunctionName, Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One alert (CONTRACT.md §4.5). Alerts without a usable function are skipped, and so,
    /// as in OpenFaaS, are alerts whose function the provider cannot read (recorded as
    /// `lookup_failed`); only a refused scale call is an error.
    pub async fn on_alert(&self, alert: &Alert) -> Result<(), ScaleError> {
        self.metrics.alert_received(&alert.status);
        let alertname = alert
            .labels
            .get("alertname")
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| "alert".to_owned());
        let Some(label) = alert.function_name() else {
            tracing::debug!(alert = %alertname, "alert without function_name ignored");
            return Ok(());
        };
        let function = match FunctionRef::parse(label) {
            Ok(f) => f,
            Err(error) => {
                tracing::warn!(alert = %alertname, function_name = label, %error, "alert for an invalid function name ignored");
                return Ok(());
            }
        };
        let firing = alert.is_firing();
        let draft = Draft {
            function: function.name.to_string(),
            trigger: if firing {
                Trigger::AlertFiring
            } else {
                Trigger::AlertResolved
            },
            alert: Some(alertname.clone()),
        };
        let status_word = if firing { "firing" } else { "resolved" };
        if let Some(ns) = function.namespace.filter(|ns| *ns != self.namespace) {
            self.decisions.record(draft.decide(
                None,
                None,
                Outcome::NotTaken,
                Reason::NamespaceNotServed,
                format!(
                    "{alertname} {status_word}: namespace {ns} is not served (function_namespace={})",
                    self.namespace
                ),
            ));
            return Ok(());
        }
        let _guard = self.lock.lock().await;
        let status = match self.provider.get(&function.name).await {
            Ok(s) => s,
            Err(e) => {
                self.metrics.error(Operation::ProviderGet);
                self.decisions.record(draft.decide(
                    None,
                    None,
                    Outcome::NotTaken,
                    Reason::LookupFailed,
                    format!("{alertname} {status_word}: ignored, the provider cannot read the function: {e}"),
                ));
                return Ok(());
            }
        };
        let limits = policy::limits(&status.labels, &self.defaults);
        let plan = policy::plan_alert(&alertname, firing, status.replicas, &limits);
        self.apply(&function.name, &draft, status.replicas, plan)
            .await
    }

    async fn apply(
        &self,
        name: &FunctionName,
        draft: &Draft,
        current: u64,
        plan: Plan,
    ) -> Result<(), ScaleError> {
        if plan.target == current {
            self.decisions.record(draft.decide(
                Some(current),
                Some(current),
                Outcome::NotTaken,
                plan.reason,
                plan.message,
            ));
            return Ok(());
        }
        match self.provider.scale(name, plan.target).await {
            Ok(()) => {
                self.note_change(name, plan.target, Utc::now());
                self.decisions.record(draft.decide(
                    Some(current),
                    Some(plan.target),
                    Outcome::Applied,
                    plan.reason,
                    plan.message,
                ));
                Ok(())
            }
            Err(source) => {
                self.metrics.error(Operation::ProviderScale);
                self.decisions.record(draft.decide(
                    Some(current),
                    Some(current),
                    Outcome::Failed,
                    Reason::ScaleFailed,
                    format!(
                        "{} -- not applied: scaling to {} failed: {source}",
                        plan.message, plan.target
                    ),
                ));
                Err(ScaleError {
                    function: name.to_string(),
                    from: current,
                    to: plan.target,
                    source,
                })
            }
        }
    }

    fn note_change(&self, name: &FunctionName, replicas: u64, now: DateTime<Utc>) {
        self.seen().insert(
            name.clone(),
            Seen {
                replicas,
                since: now,
            },
        );
    }

    /// Since when `name` has had `replicas`, as far as we saw: a count that differs from the
    /// last one seen (the gateway's scale from zero, a manual scale), or a function seen for
    /// the first time, starts the clock at `now`.
    fn observe(&self, name: &FunctionName, replicas: u64, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut seen = self.seen();
        match seen.get(name) {
            Some(s) if s.replicas == replicas => s.since,
            _ => {
                seen.insert(
                    name.clone(),
                    Seen {
                        replicas,
                        since: now,
                    },
                );
                now
            }
        }
    }

    /// The functions opted in to scale to zero, from the provider's list.
    pub async fn zero_candidates(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Candidate>, ProviderError> {
        let list = self.provider.list().await.inspect_err(|_| {
            self.metrics.error(Operation::ProviderList);
        })?;
        let mut out = Vec::new();
        for status in list {
            let limits = policy::limits(&status.labels, &self.defaults);
            if !limits.zero {
                continue;
            }
            let seen_since = self.observe(&status.name, status.replicas, now);
            let last_change = status
                .created_at
                .map_or(seen_since, |created| created.max(seen_since));
            out.push(Candidate {
                name: status.name,
                replicas: status.replicas,
                limits,
                last_change,
            });
        }
        let names: HashSet<&FunctionName> = out.iter().map(|c| &c.name).collect();
        self.seen().retain(|name, _| names.contains(name));
        Ok(out)
    }

    /// Records why an idle function was not scaled to zero.
    pub fn hold(&self, c: &Candidate, reason: Reason, message: String) {
        let draft = idle_draft(c);
        self.decisions.record(draft.decide(
            Some(c.replicas),
            Some(c.replicas),
            Outcome::NotTaken,
            reason,
            message,
        ));
    }

    /// Scales an idle function to zero, unless its replicas changed since it was judged.
    pub async fn scale_to_zero(&self, c: &Candidate, message: String) -> Result<(), ScaleError> {
        let _guard = self.lock.lock().await;
        let current = match self.provider.get(&c.name).await {
            Ok(s) => s.replicas,
            Err(error) => {
                self.metrics.error(Operation::ProviderGet);
                tracing::warn!(function = %c.name, %error, "cannot read an idle function; not scaling it this time");
                return Ok(());
            }
        };
        if current != c.replicas {
            // Scaled meanwhile (by an alert or the gateway): judge it again next time.
            return Ok(());
        }
        let plan = Plan {
            target: 0,
            reason: Reason::Idle,
            message,
        };
        self.apply(&c.name, &idle_draft(c), current, plan).await
    }
}

fn idle_draft(c: &Candidate) -> Draft {
    Draft {
        function: c.name.to_string(),
        trigger: Trigger::Idle,
        alert: None,
    }
}
