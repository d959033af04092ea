//! The retry policy, pure: which statuses are retried, how long to wait (exponential back-off
//! with jitter, `Retry-After`), and per-function overrides from `com.openfaas.retry.*`.

use std::time::{Duration, SystemTime};

use faas_provider::types::StringMap;

/// Function annotations that override the worker's defaults, as OpenFaaS Pro names them.
pub mod annotations {
    /// Attempts in all, e.g. `"10"`.
    pub const ATTEMPTS: &str = "com.openfaas.retry.attempts";
    /// Statuses retried, e.g. `"429,503"`.
    pub const CODES: &str = "com.openfaas.retry.codes";
    /// First wait, e.g. `"5s"` (as `initial_retry_wait`).
    pub const MIN_WAIT: &str = "com.openfaas.retry.min_wait";
    /// Longest back-off wait, e.g. `"2m"` (as `max_retry_wait`).
    pub const MAX_WAIT: &str = "com.openfaas.retry.max_wait";
}

/// A response header set by OpenFaaS core components on their own errors: always retried.
pub const INTERNAL_ERROR_HEADER: &str = "X-OpenFaaS-Internal";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first call included; at least 1.
    pub max_attempts: u32,
    pub codes: Vec<u16>,
    /// The first wait, and the floor under `Retry-After`.
    pub min_wait: Duration,
    /// The cap on the exponential back-off.
    pub max_wait: Duration,
}

/// What to do after attempt `n` answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// 2xx: done.
    Succeeded,
    /// A status that is not retried: done, reported as a failure.
    Failed,
    /// Try again after this long.
    Retry(Duration),
    /// A retried status on the last attempt: dead letter.
    Exhausted,
}

/// One response, as the policy sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Answer {
    pub status: u16,
    /// Parsed `Retry-After`, if the response had one.
    pub retry_after: Option<Duration>,
    /// The response carried [`INTERNAL_ERROR_HEADER`].
    pub internal: bool,
}

impl RetryPolicy {
    /// This policy with the function's `com.openfaas.retry.*` annotations applied. Values
    /// that do not parse are left out and returned as messages naming the annotation.
    pub fn with_annotations(&self, a: &StringMap) -> (RetryPolicy, Vec<String>) {
        let mut p = self.clone();
        let mut errors = Vec::new();
        let mut bad = |key: &str, value: &str, why: String| {
            errors.push(format!("annotation {key}={value:?} ignored: {why}"));
        };
        if let Some(v) = a.get(annotations::ATTEMPTS) {
            match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => p.max_attempts = n,
                _ => bad(
                    annotations::ATTEMPTS,
                    v,
                    "expected a whole number ≥ 1".into(),
                ),
            }
        }
        if let Some(v) = a.get(annotations::CODES) {
            match parse_codes(v) {
                Ok(codes) => p.codes = codes,
                Err(e) => bad(annotations::CODES, v, e),
            }
        }
        if let Some(v) = a.get(annotations::MIN_WAIT) {
            match faas_provider::duration::parse(v) {
                Ok(d) => p.min_wait = d,
                Err(e) => bad(annotations::MIN_WAIT, v, e.to_string()),
            }
        }
        if let Some(v) = a.get(annotations::MAX_WAIT) {
            match faas_provider::duration::parse(v) {
                Ok(d) => p.max_wait = d,
                Err(e) => bad(annotations::MAX_WAIT, v, e.to_string()),
            }
        }
        p.max_wait = p.max_wait.max(p.min_wait);
        (p, errors)
    }

    pub fn is_retried(&self, answer: &Answer) -> bool {
        let error = !(200..400).contains(&answer.status);
        (error && answer.internal) || self.codes.contains(&answer.status)
    }

    /// The wait after failed attempt `attempt` (1-based): `min_wait · 2^(attempt-1)`
    /// capped at `max_wait`, then "equal jitter": uniformly in its upper half, `jitter` being
    /// a number in `[0, 1]` (random in production, fixed in tests).
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(32);
        let full = self
            .min_wait
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max_wait)
            .min(self.max_wait);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// What to do after attempt `attempt` (1-based) got `answer`. `Retry-After` replaces the
    /// computed back-off but is never shorter than `min_wait`.
    pub fn decide(&self, attempt: u32, answer: &Answer, jitter: f64) -> Decision {
        if (200..300).contains(&answer.status) {
            return Decision::Succeeded;
        }
        if !self.is_retried(answer) {
            return Decision::Failed;
        }
        if attempt >= self.max_attempts {
            return Decision::Exhausted;
        }
        let wait = match answer.retry_after {
            Some(after) => after.max(self.min_wait),
            None => self.backoff(attempt, jitter),
        };
        Decision::Retry(wait)
    }
}

/// `"408, 429,500"` → codes; each must be an HTTP status (100..=599).
pub fn parse_codes(s: &str) -> Result<Vec<u16>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| match c.parse::<u16>() {
            Ok(n) if (100..=599).contains(&n) => Ok(n),
            _ => Err(format!("{c:?} is not an HTTP status code (100-599)")),
        })
        .collect()
}

/// `Retry-After` as seconds (`120`) or an HTTP date, relative to `now`; a date in the past
/// means no wait. `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            codes: vec![408, 429, 500, 502, 503, 504],
            min_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(120),
        }
    }

    fn answer(status: u16) -> Answer {
        Answer {
            status,
            ..Default::default()
        }
    }

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let p = policy();
        let secs = |s: f64| Duration::from_secs_f64(s);
        let cases = [
            (1, 1.0, secs(10.0)),
            (1, 0.0, secs(5.0)),
            (1, 0.5, secs(7.5)),
            (2, 1.0, secs(20.0)),
            (3, 1.0, secs(40.0)),
            (4, 1.0, secs(80.0)),
            (5, 1.0, secs(120.0)),
            (5, 0.0, secs(60.0)),
            (40, 1.0, secs(120.0)),
            (u32::MAX, 1.0, secs(120.0)),
            (0, 1.0, secs(10.0)),
        ];
        for (attempt, jitter, want) in cases {
            assert_eq!(p.backoff(attempt, jitter), want, "attempt {attempt}");
        }
        let zero = RetryPolicy {
            min_wait: Duration::ZERO,
            ..policy()
        };
        assert_eq!(zero.backoff(7, 1.0), Duration::ZERO);
    }

    #[test]
    fn decisions() {
        let p = policy();
        let cases = [
            ("200 succeeds", 1, answer(200), Decision::Succeeded),
            ("202 succeeds", 5, answer(202), Decision::Succeeded),
            ("404 is not retried", 1, answer(404), Decision::Failed),
            ("400 is not retried", 1, answer(400), Decision::Failed),
            (
                "429 is retried",
                1,
                answer(429),
                Decision::Retry(Duration::from_secs(10)),
            ),
            (
                "503 backs off",
                3,
                answer(503),
                Decision::Retry(Duration::from_secs(40)),
            ),
            (
                "last attempt is exhausted",
                5,
                answer(503),
                Decision::Exhausted,
            ),
            ("beyond the last too", 9, answer(500), Decision::Exhausted),
            (
                "Retry-After wins",
                1,
                Answer {
                    status: 429,
                    retry_after: Some(Duration::from_secs(300)),
                    internal: false,
                },
                Decision::Retry(Duration::from_secs(300)),
            ),
            (
                "Retry-After floored at min_wait",
                2,
                Answer {
                    status: 503,
                    retry_after: Some(Duration::from_secs(1)),
                    internal: false,
                },
                Decision::Retry(Duration::from_secs(10)),
            ),
            (
                "core-component errors are retried",
                1,
                Answer {
                    status: 404,
                    retry_after: None,
                    internal: true,
                },
                Decision::Retry(Duration::from_secs(10)),
            ),
            (
                "internal header on success is ignored",
                1,
                Answer {
                    status: 200,
                    retry_after: None,
                    internal: true,
                },
                Decision::Succeeded,
            ),
            (
                "3xx is a failure, not retried",
                1,
                answer(302),
                Decision::Failed,
            ),
        ];
        for (name, attempt, a, want) in cases {
            assert_eq!(p.decide(attempt, &a, 1.0), want, "{name}");
        }
        let once = RetryPolicy {
            max_attempts: 1,
            ..policy()
        };
        assert_eq!(once.decide(1, &answer(503), 1.0), Decision::Exhausted);
    }

    #[test]
    fn annotations_override() {
        let map = |pairs: &[(&str, &str)]| -> StringMap {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (p, errors) = policy().with_annotations(&map(&[
            (annotations::ATTEMPTS, "3"),
            (annotations::CODES, "429"),
            (annotations::MIN_WAIT, "100ms"),
            (annotations::MAX_WAIT, "1s"),
        ]));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            p,
            RetryPolicy {
                max_attempts: 3,
                codes: vec![429],
                min_wait: Duration::from_millis(100),
                max_wait: Duration::from_secs(1),
            }
        );
        let (p, errors) = policy().with_annotations(&map(&[
            (annotations::ATTEMPTS, "0"),
            (annotations::CODES, "429,x"),
            (annotations::MIN_WAIT, "5m"),
            (annotations::MAX_WAIT, "soon"),
        ]));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains(annotations::ATTEMPTS), "{errors:?}");
        assert!(errors[1].contains(annotations::CODES), "{errors:?}");
        assert!(errors[2].contains(annotations::MAX_WAIT), "{errors:?}");
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.codes, policy().codes);
        // A min above the max raises the max.
        assert_eq!(p.min_wait, Duration::from_secs(300));
        assert_eq!(p.max_wait, Duration::from_secs(300));
    }

    #[test]
    fn retry_after_forms() {
        let now = httpdate::parse_http_date("Fri, 10 Apr 2026 09:47:00 GMT").unwrap();
        let cases = [
            ("30", Some(Duration::from_secs(30))),
            (" 0 ", Some(Duration::ZERO)),
            (
                "Fri, 10 Apr 2026 09:48:30 GMT",
                Some(Duration::from_secs(90)),
            ),
            ("Fri, 10 Apr 2026 09:40:00 GMT", Some(Duration::ZERO)),
            (
                "Friday, 10-Apr-26 09:47:10 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("soon", None),
            ("-5", None),
            ("1.5", None),
        ];
        for (value, want) in cases {
            assert_eq!(parse_retry_after(value, now), want, "{value:?}");
        }
    }

    #[test]
    fn codes() {
        assert_eq!(parse_codes("408, 429,500").unwrap(), vec![408, 429, 500]);
        assert_eq!(parse_codes("").unwrap(), Vec::<u16>::new());
        assert!(parse_codes("42").is_err());
        assert!(parse_codes("429;503").is_err());
    }
}
