//! The callback: POSTs a call's final result to its `X-Callback-Url` (CONTRACT.md §5.6 plus
//! `X-Retry`/`X-Retry-Max`), retrying a receiver that is down within a cap.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};

use crate::invoker::{error_chain, is_hop_by_hop, FunctionResponse};
use crate::retry::{parse_retry_after, Answer, Decision, RetryPolicy};

pub const X_DURATION_SECONDS: &str = "X-Duration-Seconds";
pub const X_FUNCTION_STATUS: &str = "X-Function-Status";
pub const X_FUNCTION_NAME: &str = "X-Function-Name";
pub const X_CALL_ID: &str = "X-Call-Id";
/// Retries made before the attempt reported (0 when the first attempt was final).
pub const X_RETRY: &str = "X-Retry";
/// Retries allowed: the call's maximum attempts minus one.
pub const X_RETRY_MAX: &str = "X-Retry-Max";

const AGENT: &str = concat!("ironfaas-queue-worker/", env!("CARGO_PKG_VERSION"));

/// One call's final result, as the callback reports it.
#[derive(Debug)]
pub struct CallbackReport<'a> {
    pub url: &'a url::Url,
    pub function: &'a str,
    pub call_id: Option<&'a str>,
    /// The function's status, or 503/504 when it gave no response.
    pub status: u16,
    /// Since this worker received the message.
    pub duration: Duration,
    pub retry: u32,
    pub retry_max: u32,
    /// Its headers and body are sent on; `None` when the call got no response.
    pub response: Option<&'a FunctionResponse>,
}

#[derive(Debug, thiserror::Error)]
#[error("callback to {url} failed after {attempts} attempt(s): {last}")]
pub struct CallbackError {
    pub url: String,
    pub attempts: u32,
    pub last: String,
}

pub struct Callback {
    client: reqwest::Client,
    policy: RetryPolicy,
    timeout: Duration,
}

impl Callback {
    /// `policy` says how often and how long a failing receiver is retried.
    pub fn new(client: reqwest::Client, policy: RetryPolicy, timeout: Duration) -> Self {
        Self {
            client,
            policy,
            timeout,
        }
    }

    /// Delivers the report; returns the receiver's status, or why it could not be delivered
    /// within the policy's attempts.
    pub async fn send(&self, report: &CallbackReport<'_>) -> Result<u16, CallbackError> {
        let headers = headers(report);
        let body = report.response.map(|r| r.body.clone()).unwrap_or_default();
        let mut attempt = 1;
        loop {
            let result = self
                .client
                .post(report.url.clone())
                .headers(headers.clone())
                .body(body.clone())
                .timeout(self.timeout)
                .send()
                .await;
            let (answer, last) = match result {
                Ok(res) if res.status().is_success() => return Ok(res.status().as_u16()),
                Ok(res) => {
                    let retry_after = res
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    let status = res.status().as_u16();
                    let answer = Answer {
                        status,
                        retry_after,
                        internal: false,
                    };
                    (answer, format!("receiver answered {status}"))
                }
                // No answer at all: retried as a 503 would be.
                Err(e) => (
                    Answer {
                        status: 503,
                        ..Default::default()
                    },
                    error_chain(&e),
                ),
            };
            match self.policy.decide(attempt, &answer, rand::random()) {
                Decision::Retry(wait) => {
                    tracing::debug!(url = %report.url, attempt, error = %last, ?wait, "callback failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => {
                    return Err(CallbackError {
                        url: report.url.to_string(),
                        attempts: attempt,
                        last,
                    })
                }
            }
        }
    }
}

/// The function's response headers, then ours (replacing any the function set).
fn headers(report: &CallbackReport<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(r) = report.response {
        for (name, value) in &r.headers {
            if !is_hop_by_hop(name.as_str()) {
                h.append(name.clone(), value.clone());
            }
        }
    }
    let mut set = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    };
    // Go's "%f": six decimals.
    set(
        X_DURATION_SECONDS,
        &format!("{:.6}", report.duration.as_secs_f64()),
    );
    set(X_FUNCTION_STATUS, &report.status.to_string());
    set(X_FUNCTION_NAME, report.function);
    if let Some(id) = report.call_id {
        set(X_CALL_ID, id);
    }
    set(X_RETRY, &report.retry.to_string());
    set(X_RETRY_MAX, &report.retry_max.to_string());
    h.entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(AGENT));
    h
}
