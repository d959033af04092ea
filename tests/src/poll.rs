//! A bounded poll for when nothing can be awaited directly; reports the last state seen.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The condition did not hold in time. `Debug` prints the same text as `Display` so that
/// `.expect("...")` shows the last state seen rather than a struct dump.
pub struct Timeout {
    pub waited: Duration,
    pub attempts: u32,
    /// What the last check reported.
    pub last: String,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "condition not met after {:?} ({} checks); last state seen: {}",
            self.waited, self.attempts, self.last
        )
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Timeout {}

/// Runs `check` every `interval` until it returns `Ok`, for at most `timeout`.
///
/// `check` returns `Err(state)` describing what it saw; the last one is reported on timeout. A
/// check that itself hangs is cut off at the deadline, so this never waits longer than `timeout`.
pub async fn until<T, F, Fut>(
    timeout: Duration,
    interval: Duration,
    mut check: F,
) -> Result<T, Timeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    let started = Instant::now();
    let mut attempts = 0;
    let mut last = "no check finished".to_owned();
    loop {
        attempts += 1;
        match tokio::time::timeout_at(deadline, check()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(state)) => last = state,
            Err(_) => {
                last = format!("{last} (and the next check was still running at the deadline)")
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Timeout {
                waited: now - started,
                attempts,
                last,
            });
        }
        tokio::time::sleep_until((now + interval).min(deadline)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_the_value_once_the_condition_holds() {
        let mut calls = 0;
        let value = until(Duration::from_secs(5), Duration::from_millis(100), || {
            calls += 1;
            let seen = calls;
            async move {
                if seen >= 3 {
                    Ok(seen)
                } else {
                    Err(format!("call {seen}"))
                }
            }
        })
        .await
        .expect("condition holds on the third call");
        assert_eq!(value, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_reports_the_last_state_seen() {
        let mut calls = 0;
        let err = until(Duration::from_secs(1), Duration::from_millis(300), || {
            calls += 1;
            let seen = calls;
            async move { Err::<(), _>(format!("replicas: {seen}")) }
        })
        .await
        .expect_err("condition never holds");
        // Checks at 0, 300, 600, 900 ms and at the 1 s deadline.
        assert_eq!(err.attempts, 5);
        assert_eq!(err.last, "replicas: 5");
        assert_eq!(err.waited, Duration::from_secs(1));
        assert!(
            err.to_string().contains("last state seen: replicas: 5"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_check_is_cut_off_at_the_deadline() {
        let err = until(Duration::from_secs(2), Duration::from_millis(10), || {
            std::future::pending::<Result<(), String>>()
        })
        .await
        .expect_err("a pending check never succeeds");
        assert_eq!(err.waited, Duration::from_secs(2));
        assert_eq!(
            err.last,
            "no check finished (and the next check was still running at the deadline)"
        );
    }
}
