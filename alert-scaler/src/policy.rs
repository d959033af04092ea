//! The scaling policy, pure: a function's labels → its limits, an alert → target replicas,
//! idleness → zero replicas. No I/O and no clock: callers pass what they saw and `now`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use faas_provider::types::StringMap;
use serde::{Deserialize, Serialize};

pub const MIN_LABEL: &str = "com.openfaas.scale.min";
pub const MAX_LABEL: &str = "com.openfaas.scale.max";
pub const FACTOR_LABEL: &str = "com.openfaas.scale.factor";
pub const ZERO_LABEL: &str = "com.openfaas.scale.zero";
pub const ZERO_DURATION_LABEL: &str = "com.openfaas.scale.zero-duration";

/// Shortest zero-duration accepted: Prometheus refuses an empty range.
pub const MIN_ZERO_DURATION: Duration = Duration::from_secs(1);

/// What applies when a function sets no (or an unusable) label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub min: u64,
    pub max: u64,
    /// Percent of `max` added per firing alert, 0–100.
    pub factor: u64,
    pub zero_duration: Duration,
}

impl Default for Defaults {
    /// OpenFaaS's Swarm-era defaults (CONTRACT.md §4.3), without CE's 5-replica cap.
    fn default() -> Self {
        Self {
            min: 1,
            max: 20,
            factor: 20,
            zero_duration: Duration::from_secs(15 * 60),
        }
    }
}

/// A function's scaling limits as read from its labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub min: u64,
    pub max: u64,
    pub factor: u64,
    /// Opted in to scale to zero.
    pub zero: bool,
    pub zero_duration: Duration,
    /// Labels that were ignored and why; they end up in the decision's reason.
    pub notes: Vec<String>,
}

impl Limits {
    /// Replicas added per firing alert: `ceil(max × factor / 100)`, in exact integer arithmetic
    /// (the Go gateway's float arithmetic rounds `3 × 100 / 100` up to 4).
    pub fn step(&self) -> u64 {
        let step = (u128::from(self.max) * u128::from(self.factor)).div_ceil(100);
        u64::try_from(step).unwrap_or(u64::MAX)
    }
}

/// Reads the scaling labels. An unusable value is noted and the default used, as the OpenFaaS
/// gateway does; `max` below `min` is raised to `min` (which disables alert scaling).
pub fn limits(labels: &StringMap, defaults: &Defaults) -> Limits {
    let mut notes = Vec::new();
    let min = integer(labels, MIN_LABEL, defaults.min, &mut notes);
    let mut max = integer(labels, MAX_LABEL, defaults.max, &mut notes);
    let mut factor = integer(labels, FACTOR_LABEL, defaults.factor, &mut notes);
    if factor > 100 {
        notes.push(format!(
            "{FACTOR_LABEL}={factor} is above 100; the default {} is used",
            defaults.factor
        ));
        factor = defaults.factor;
    }
    if max < min {
        notes.push(format!(
            "{MAX_LABEL}={max} is below {MIN_LABEL}={min}; max {min} is used"
        ));
        max = min;
    }
    let zero = match labels.get(ZERO_LABEL).map(String::as_str) {
        None => false,
        Some(v) => parse_go_bool(v).unwrap_or_else(|| {
            notes.push(format!(
                "{ZERO_LABEL}={v:?} is not a boolean; false is used"
            ));
            false
        }),
    };
    let zero_duration = match labels.get(ZERO_DURATION_LABEL) {
        None => defaults.zero_duration,
        Some(v) => match faas_provider::duration::parse(v) {
            Ok(d) if d >= MIN_ZERO_DURATION => d,
            _ => {
                notes.push(format!(
                    "{ZERO_DURATION_LABEL}={v:?} is not a duration of at least 1s; the default {} is used",
                    human(defaults.zero_duration)
                ));
                defaults.zero_duration
            }
        },
    };
    Limits {
        min,
        max,
        factor,
        zero,
        zero_duration,
        notes,
    }
}

fn integer(labels: &StringMap, label: &str, default: u64, notes: &mut Vec<String>) -> u64 {
    match labels.get(label) {
        None => default,
        Some(v) => v.trim().parse().unwrap_or_else(|_| {
            notes.push(format!(
                "{label}={v:?} is not a non-negative integer; the default {default} is used"
            ));
            default
        }),
    }
}

/// Go's `strconv.ParseBool`, which OpenFaaS components use for labels.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Why a decision came out as it did; also the `reason` label of the decisions metric, so the
/// set is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Firing: `current + step`, within max.
    FiringStep,
    /// Firing: `current + step` exceeded max; max is used.
    FiringCapped,
    /// Firing while already at max: nothing to do.
    FiringAtMax,
    /// Firing while above max (scaled by hand): pulled down to max, as OpenFaaS does.
    FiringAboveMax,
    /// Firing with a step of 0 (factor 0): OpenFaaS treats it as resolved, back to min.
    FiringFactorZero,
    /// Resolved: back to min.
    ResolvedToMin,
    /// Resolved while already at min: nothing to do.
    ResolvedAtMin,
    /// Resolved while scaled to zero: left at zero, the next call wakes it.
    ResolvedAtZero,
    /// Idle for its zero-duration: scaled to zero.
    Idle,
    /// Idle by its completed calls, but calls are in flight: not zeroed.
    IdleInFlight,
    /// Idle by its completed calls, but deployed or scaled less than zero-duration ago.
    IdleGracePeriod,
    /// Prometheus lacks the gateway's metrics for it over zero-duration: idleness unknown.
    IdleNoMetrics,
    /// The provider could not say how many replicas the function has.
    LookupFailed,
    /// The alert names a namespace this provider does not serve.
    NamespaceNotServed,
    /// The provider refused the scale call.
    ScaleFailed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            FiringStep => "firing_step",
            FiringCapped => "firing_capped",
            FiringAtMax => "firing_at_max",
            FiringAboveMax => "firing_above_max",
            FiringFactorZero => "firing_factor_zero",
            ResolvedToMin => "resolved_to_min",
            ResolvedAtMin => "resolved_at_min",
            ResolvedAtZero => "resolved_at_zero",
            Idle => "idle",
            IdleInFlight => "idle_in_flight",
            IdleGracePeriod => "idle_grace_period",
            IdleNoMetrics => "idle_no_metrics",
            LookupFailed => "lookup_failed",
            NamespaceNotServed => "namespace_not_served",
            ScaleFailed => "scale_failed",
        }
    }
}

/// A target and its explanation; `target == current` means no change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub target: u64,
    pub reason: Reason,
    pub message: String,
}

/// One alert for a function with `current` replicas (CONTRACT.md §4.5): firing adds
/// `ceil(max × factor / 100)` up to max; resolved (or firing with a step of 0) returns to min.
/// One deliberate difference: a function scaled to zero stays there on "resolved", because a
/// resolved alert means the load went away and waking it would be a scale-up on no load.
pub fn plan_alert(alert: &str, firing: bool, current: u64, limits: &Limits) -> Plan {
    let Limits {
        min, max, factor, ..
    } = *limits;
    let step = limits.step();
    let plan = |target, reason, message: String| Plan {
        target,
        reason,
        message: with_notes(message, &limits.notes),
    };
    if firing && step > 0 {
        let raw = current.saturating_add(step);
        return if current > max {
            plan(
                max,
                Reason::FiringAboveMax,
                format!("{alert} firing: {current} replicas is above max {max}; down to max"),
            )
        } else if current == max {
            plan(
                current,
                Reason::FiringAtMax,
                format!("{alert} firing: already at max {max}"),
            )
        } else if raw > max {
            plan(
                max,
                Reason::FiringCapped,
                format!("{alert} firing: {current} + ceil({max}*{factor}/100)={raw}, capped at max {max}"),
            )
        } else {
            plan(
                raw,
                Reason::FiringStep,
                format!("{alert} firing: {current} + ceil({max}*{factor}/100)={raw} (max {max})"),
            )
        };
    }
    let (why, reason_to_min, reason_at_min) = if firing {
        (
            format!("{alert} firing with step ceil({max}*{factor}/100)=0, treated as resolved"),
            Reason::FiringFactorZero,
            Reason::FiringFactorZero,
        )
    } else {
        (
            format!("{alert} resolved"),
            Reason::ResolvedToMin,
            Reason::ResolvedAtMin,
        )
    };
    if current == 0 && min > 0 {
        plan(
            0,
            Reason::ResolvedAtZero,
            format!("{why}: scaled to zero, left there; the next call wakes it"),
        )
    } else if current == min {
        plan(
            current,
            reason_at_min,
            format!("{why}: already at min {min}"),
        )
    } else {
        plan(min, reason_to_min, format!("{why}: back to min {min}"))
    }
}

/// What the idler knows about one function at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    pub replicas: u64,
    /// Prometheus has the gateway's metrics for it now and zero-duration ago, so "no calls"
    /// means no calls rather than no data (a gateway not scraped yet, a young Prometheus).
    pub observed: bool,
    /// Prometheus saw a call complete within zero-duration.
    pub recent_calls: bool,
    /// Calls in flight at the last scrape.
    pub in_flight: u64,
    /// The latest of: created, scaled by us, replicas seen changing (the gateway's scale from
    /// zero, a manual scale), the idler's start.
    pub last_change: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdlePlan {
    /// Nothing to explain: not opted in, already at zero, or called recently.
    Ignore,
    /// Idle by its calls but not zeroed, and why.
    Hold {
        reason: Reason,
        message: String,
    },
    ScaleToZero {
        message: String,
    },
}

/// Scale to zero: opted in, no completed call for zero-duration, nothing in flight, metrics
/// covering the whole zero-duration, and not deployed or scaled within zero-duration (it must
/// have had a chance to be called).
pub fn plan_idle(now: DateTime<Utc>, activity: &Activity, limits: &Limits) -> IdlePlan {
    if !limits.zero || activity.replicas == 0 || activity.recent_calls {
        return IdlePlan::Ignore;
    }
    let window = human(limits.zero_duration);
    if activity.in_flight > 0 {
        return IdlePlan::Hold {
            reason: Reason::IdleInFlight,
            message: with_notes(
                format!(
                    "no call completed in {window} but {} in flight; not scaling to zero",
                    activity.in_flight
                ),
                &limits.notes,
            ),
        };
    }
    if !activity.observed {
        return IdlePlan::Hold {
            reason: Reason::IdleNoMetrics,
            message: with_notes(
                format!(
                    "no call seen, but Prometheus lacks the gateway's metrics for it over the last {window}; not scaling to zero"
                ),
                &limits.notes,
            ),
        };
    }
    if let Some(changed) = activity.last_change {
        let since = (now - changed).to_std().unwrap_or_default();
        if since < limits.zero_duration {
            let wait = limits.zero_duration - since;
            return IdlePlan::Hold {
                reason: Reason::IdleGracePeriod,
                message: with_notes(
                    format!(
                        "no call completed in {window} but deployed or scaled {} ago; eligible in {}",
                        human(since),
                        human(wait)
                    ),
                    &limits.notes,
                ),
            };
        }
    }
    IdlePlan::ScaleToZero {
        message: with_notes(
            format!(
                "no call for {window} ({ZERO_LABEL}=true, zero-duration {window}): {} -> 0",
                activity.replicas
            ),
            &limits.notes,
        ),
    }
}

fn with_notes(message: String, notes: &[String]) -> String {
    if notes.is_empty() {
        message
    } else {
        format!("{message} [{}]", notes.join("; "))
    }
}

/// Whole seconds (or milliseconds below one second), as `15m`, `4s`, `250ms`.
pub fn human(d: Duration) -> String {
    let rounded = if d >= Duration::from_secs(1) {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(d.subsec_millis().into())
    };
    humantime::format_duration(rounded).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lim(min: u64, max: u64, factor: u64) -> Limits {
        Limits {
            min,
            max,
            factor,
            zero: false,
            zero_duration: Duration::from_secs(900),
            notes: Vec::new(),
        }
    }

    /// A row of the labels table: what a function's labels give.
    struct LabelCase {
        name: &'static str,
        labels: &'static [(&'static str, &'static str)],
        /// min, max, factor, zero-duration in seconds.
        want: [u64; 4],
        zero: bool,
        /// Words the notes must contain, one per note, in order.
        notes: &'static [&'static str],
    }

    #[rustfmt::skip]
    const LABEL_CASES: &[LabelCase] = &[
        LabelCase { name: "no labels: defaults", labels: &[], want: [1, 20, 20, 900], zero: false, notes: &[] },
        LabelCase { name: "all set", labels: &[(MIN_LABEL, "2"), (MAX_LABEL, "40"), (FACTOR_LABEL, "50"), (ZERO_LABEL, "true"), (ZERO_DURATION_LABEL, "5m")], want: [2, 40, 50, 300], zero: true, notes: &[] },
        LabelCase { name: "no cap at 5 (CE)", labels: &[(MAX_LABEL, "100")], want: [1, 100, 20, 900], zero: false, notes: &[] },
        LabelCase { name: "explicit min 0 passes", labels: &[(MIN_LABEL, "0")], want: [0, 20, 20, 900], zero: false, notes: &[] },
        LabelCase { name: "factor 0 allowed", labels: &[(FACTOR_LABEL, "0")], want: [1, 20, 0, 900], zero: false, notes: &[] },
        LabelCase { name: "factor 100 allowed", labels: &[(FACTOR_LABEL, "100")], want: [1, 20, 100, 900], zero: false, notes: &[] },
        LabelCase { name: "factor above 100: default", labels: &[(FACTOR_LABEL, "101")], want: [1, 20, 20, 900], zero: false, notes: &["above 100"] },
        LabelCase { name: "non-integer min: default", labels: &[(MIN_LABEL, "two")], want: [1, 20, 20, 900], zero: false, notes: &[MIN_LABEL] },
        LabelCase { name: "negative max: default", labels: &[(MAX_LABEL, "-3")], want: [1, 20, 20, 900], zero: false, notes: &[MAX_LABEL] },
        LabelCase { name: "float factor: default", labels: &[(FACTOR_LABEL, "2.5")], want: [1, 20, 20, 900], zero: false, notes: &[FACTOR_LABEL] },
        LabelCase { name: "spaces trimmed", labels: &[(MAX_LABEL, " 7 ")], want: [1, 7, 20, 900], zero: false, notes: &[] },
        LabelCase { name: "max below min: raised", labels: &[(MIN_LABEL, "5"), (MAX_LABEL, "2")], want: [5, 5, 20, 900], zero: false, notes: &["below"] },
        LabelCase { name: "min = max", labels: &[(MIN_LABEL, "3"), (MAX_LABEL, "3")], want: [3, 3, 20, 900], zero: false, notes: &[] },
        LabelCase { name: "zero Go spelling 1", labels: &[(ZERO_LABEL, "1")], want: [1, 20, 20, 900], zero: true, notes: &[] },
        LabelCase { name: "zero Go spelling True", labels: &[(ZERO_LABEL, "True")], want: [1, 20, 20, 900], zero: true, notes: &[] },
        LabelCase { name: "zero false", labels: &[(ZERO_LABEL, "false")], want: [1, 20, 20, 900], zero: false, notes: &[] },
        LabelCase { name: "zero not a bool", labels: &[(ZERO_LABEL, "yes")], want: [1, 20, 20, 900], zero: false, notes: &[ZERO_LABEL] },
        LabelCase { name: "zero-duration seconds", labels: &[(ZERO_DURATION_LABEL, "90")], want: [1, 20, 20, 90], zero: false, notes: &[] },
        LabelCase { name: "zero-duration Go", labels: &[(ZERO_DURATION_LABEL, "1h2m")], want: [1, 20, 20, 3720], zero: false, notes: &[] },
        LabelCase { name: "zero-duration bad", labels: &[(ZERO_DURATION_LABEL, "soon")], want: [1, 20, 20, 900], zero: false, notes: &[ZERO_DURATION_LABEL] },
        LabelCase { name: "zero-duration 0: default", labels: &[(ZERO_DURATION_LABEL, "0s")], want: [1, 20, 20, 900], zero: false, notes: &["at least 1s"] },
        LabelCase { name: "two bad labels, two notes", labels: &[(MIN_LABEL, "x"), (ZERO_LABEL, "y")], want: [1, 20, 20, 900], zero: false, notes: &[MIN_LABEL, ZERO_LABEL] },
    ];

    #[test]
    fn labels_to_limits() {
        let d = Defaults::default();
        for case in LABEL_CASES {
            let l = limits(&labels(case.labels), &d);
            let got = [l.min, l.max, l.factor, l.zero_duration.as_secs()];
            assert_eq!((got, l.zero), (case.want, case.zero), "{}", case.name);
            assert_eq!(
                l.notes.len(),
                case.notes.len(),
                "{}: {:?}",
                case.name,
                l.notes
            );
            for (note, word) in l.notes.iter().zip(case.notes) {
                assert!(
                    note.contains(word),
                    "{}: {note:?} should mention {word}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn configured_defaults_apply() {
        let d = Defaults {
            min: 2,
            max: 10,
            factor: 50,
            zero_duration: Duration::from_secs(60),
        };
        let l = limits(&labels(&[(FACTOR_LABEL, "x")]), &d);
        assert_eq!((l.min, l.max, l.factor), (2, 10, 50));
        assert_eq!(l.zero_duration, Duration::from_secs(60));
    }

    #[test]
    fn steps() {
        // (max, factor, step): ceil(max * factor / 100), exact.
        for (max, factor, want) in [
            (20, 20, 4),
            (2, 20, 1),
            (5, 10, 1),
            (3, 100, 3),
            (20, 0, 0),
            (0, 50, 0),
            (7, 50, 4),
            (1000, 1, 10),
            (u64::MAX, 100, u64::MAX),
            (u64::MAX, 1, u64::MAX.div_ceil(100)),
        ] {
            assert_eq!(
                lim(1, max, factor).step(),
                want,
                "max {max} factor {factor}"
            );
        }
    }

    #[test]
    #[rustfmt::skip]
    fn alert_table() {
        // (case, firing, current, min, max, factor, target, reason, message contains)
        let cases = [
            ("firing 1 -> 5", true, 1, 1, 20, 20, 5, Reason::FiringStep, "1 + ceil(20*20/100)=5 (max 20)"),
            ("firing 5 -> 9", true, 5, 1, 20, 20, 9, Reason::FiringStep, "=9"),
            ("firing 17 capped", true, 17, 1, 20, 20, 20, Reason::FiringCapped, "17 + ceil(20*20/100)=21, capped at max 20"),
            ("firing at max", true, 20, 1, 20, 20, 20, Reason::FiringAtMax, "already at max 20"),
            ("firing above max", true, 25, 1, 20, 20, 20, Reason::FiringAboveMax, "above max 20"),
            ("certifier 1 -> 2", true, 1, 1, 2, 20, 2, Reason::FiringStep, "ceil(2*20/100)=2"),
            ("certifier at 2", true, 2, 1, 2, 20, 2, Reason::FiringAtMax, "already at max 2"),
            ("firing from zero", true, 0, 1, 20, 20, 4, Reason::FiringStep, "0 + ceil"),
            ("firing min=max", true, 3, 3, 3, 20, 3, Reason::FiringAtMax, "already at max 3"),
            ("factor 0 firing -> min", true, 5, 1, 20, 0, 1, Reason::FiringFactorZero, "treated as resolved: back to min 1"),
            ("factor 0 firing at min", true, 1, 1, 20, 0, 1, Reason::FiringFactorZero, "already at min 1"),
            ("factor 0 firing at zero", true, 0, 1, 20, 0, 0, Reason::ResolvedAtZero, "left there"),
            ("resolved -> min", false, 9, 1, 20, 20, 1, Reason::ResolvedToMin, "resolved: back to min 1"),
            ("resolved at min", false, 1, 1, 20, 20, 1, Reason::ResolvedAtMin, "already at min 1"),
            ("resolved below min: up to min", false, 1, 2, 20, 20, 2, Reason::ResolvedToMin, "back to min 2"),
            ("resolved at zero stays", false, 0, 1, 20, 20, 0, Reason::ResolvedAtZero, "next call wakes it"),
            ("resolved with min 0 -> 0", false, 3, 0, 20, 20, 0, Reason::ResolvedToMin, "back to min 0"),
            ("resolved min 0 at zero", false, 0, 0, 20, 20, 0, Reason::ResolvedAtMin, "already at min 0"),
        ];
        for (case, firing, current, min, max, factor, target, reason, text) in cases {
            let p = plan_alert("APIHighInvocationRate", firing, current, &lim(min, max, factor));
            assert_eq!((p.target, p.reason), (target, reason), "{case}: {}", p.message);
            assert!(p.message.contains(text), "{case}: {:?} should contain {text:?}", p.message);
            assert!(p.message.starts_with("APIHighInvocationRate"), "{case}");
        }
    }

    #[test]
    fn notes_reach_the_message() {
        let l = limits(&labels(&[(MAX_LABEL, "lots")]), &Defaults::default());
        let p = plan_alert("A", true, 1, &l);
        assert!(
            p.message.contains("[com.openfaas.scale.max=\"lots\""),
            "{}",
            p.message
        );
    }

    #[test]
    #[rustfmt::skip]
    fn idle_table() {
        let now: DateTime<Utc> = "2024-01-01T12:00:00Z".parse().unwrap();
        let ago = |secs: i64| Some(now - chrono::Duration::seconds(secs));
        let zero = Limits { zero: true, ..lim(1, 20, 20) };
        let not_opted = lim(1, 20, 20);
        // (case, limits, replicas, observed, recent calls, in flight, last change, kind, text)
        let cases = [
            ("not opted in", &not_opted, 1, true, false, 0, ago(3600), "ignore", ""),
            ("already zero", &zero, 0, true, false, 0, ago(3600), "ignore", ""),
            ("recent calls", &zero, 1, true, true, 0, ago(3600), "ignore", ""),
            ("recent calls and in flight", &zero, 1, true, true, 2, ago(3600), "ignore", ""),
            ("in flight", &zero, 1, true, false, 2, ago(3600), "hold in_flight", "2 in flight"),
            ("no metrics", &zero, 1, false, false, 0, ago(3600), "hold no_metrics", "lacks the gateway's metrics for it over the last 15m"),
            ("no metrics and in flight", &zero, 1, false, false, 1, ago(3600), "hold in_flight", "1 in flight"),
            ("deployed 5m ago", &zero, 1, true, false, 0, ago(300), "hold grace", "scaled 5m ago; eligible in 10m"),
            ("changed 1s short", &zero, 3, true, false, 0, ago(899), "hold grace", "eligible in 1s"),
            ("exactly zero-duration", &zero, 3, true, false, 0, ago(900), "zero", "3 -> 0"),
            ("idle long", &zero, 1, true, false, 0, ago(7200), "zero", "no call for 15m"),
            ("no change known", &zero, 1, true, false, 0, None, "zero", "1 -> 0"),
            ("change in the future (clock skew)", &zero, 1, true, false, 0, ago(-60), "hold grace", "eligible in 15m"),
        ];
        for (case, limits, replicas, observed, recent_calls, in_flight, last_change, kind, text) in cases {
            let a = Activity { replicas, observed, recent_calls, in_flight, last_change };
            let plan = plan_idle(now, &a, limits);
            let (got, message) = match &plan {
                IdlePlan::Ignore => ("ignore", String::new()),
                IdlePlan::Hold { reason: Reason::IdleInFlight, message } => ("hold in_flight", message.clone()),
                IdlePlan::Hold { reason: Reason::IdleGracePeriod, message } => ("hold grace", message.clone()),
                IdlePlan::Hold { reason: Reason::IdleNoMetrics, message } => ("hold no_metrics", message.clone()),
                IdlePlan::Hold { .. } => ("hold other", String::new()),
                IdlePlan::ScaleToZero { message } => ("zero", message.clone()),
            };
            assert_eq!(got, kind, "{case}: {plan:?}");
            assert!(message.contains(text), "{case}: {message:?} should contain {text:?}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(900)), "15m");
        assert_eq!(human(Duration::from_millis(4500)), "4s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
