//! Processes one queued call, knowing nothing of NATS: decode, invoke, decide between done,
//! retry later and dead letter, and send the callback once the outcome is final.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use faas_provider::types::QueueRequest;
use faas_provider::FunctionRef;
use reqwest::header::RETRY_AFTER;

use crate::callback::{Callback, CallbackReport};
use crate::invoker::{FunctionResponse, Invoker};
use crate::metrics::Metrics;
use crate::report::Reporter;
use crate::retry::{parse_retry_after, Answer, Decision, RetryPolicy, INTERNAL_ERROR_HEADER};

/// The metrics label of messages without a valid function name (labels stay bounded).
const INVALID: &str = "<invalid>";

/// One delivery of a message.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The `QueueRequest` as JSON.
    pub payload: Bytes,
    /// 1 for the first delivery; counted by the queue, so a delivery cut short by a worker
    /// crash counts too.
    pub attempt: u32,
}

/// What the consumer does with the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Final (success or a status that is not retried): acknowledge it.
    Done,
    /// Deliver it again after this long.
    Retry(Duration),
    /// Failed for good: store it as a dead letter, then acknowledge it.
    DeadLetter(Failure),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub function: Option<String>,
    /// The last attempt's status; `None` when no call could be made.
    pub status: Option<u16>,
    pub error: String,
}

pub struct Handler {
    invoker: Invoker,
    callback: Callback,
    reporter: Option<Reporter>,
    policy: RetryPolicy,
    metrics: Metrics,
}

impl Handler {
    /// `reporter`: `/system/async-report`, when calls bypass the gateway.
    pub fn new(
        invoker: Invoker,
        callback: Callback,
        reporter: Option<Reporter>,
        policy: RetryPolicy,
        metrics: Metrics,
    ) -> Self {
        Self {
            invoker,
            callback,
            reporter,
            policy,
            metrics,
        }
    }

    pub async fn process(&self, delivery: &Delivery) -> Outcome {
        let received = Instant::now();
        let request: QueueRequest = match serde_json::from_slice(&delivery.payload) {
            Ok(r) => r,
            Err(e) => {
                let error = format!("the message is not a QueueRequest: {e}");
                return self.unusable(None, INVALID, error);
            }
        };
        let function = match FunctionRef::parse(&request.function) {
            Ok(f) => f,
            Err(e) => return self.unusable(Some(request.function.clone()), INVALID, e.to_string()),
        };
        let name = function.name.as_str();
        let (policy, problems) = self.policy.with_annotations(&request.annotations);
        for problem in problems {
            tracing::warn!(function = name, %problem, "bad retry annotation");
        }
        if delivery.attempt > policy.max_attempts {
            // Earlier deliveries ended without an outcome (the worker died mid-call, or the
            // dead letter could not be stored): do not call the function again.
            self.metrics.dead_lettered(name);
            return Outcome::DeadLetter(Failure {
                function: Some(request.function.clone()),
                status: None,
                error: format!(
                    "delivered {} times, more than the {} attempts allowed",
                    delivery.attempt, policy.max_attempts
                ),
            });
        }

        let started = Instant::now();
        let result = self.invoker.invoke(&request, &function).await;
        let took = started.elapsed();
        let (status, response, error) = match result {
            Ok(r) => (r.status, Some(r), None),
            Err(e) => match e.status() {
                Some(status) => (status, None, Some(e.to_string())),
                None => return self.unusable(Some(request.function.clone()), name, e.to_string()),
            },
        };
        self.metrics.call_duration(name, status, took);
        let decision = policy.decide(
            delivery.attempt,
            &answer(status, response.as_ref()),
            rand::random(),
        );
        tracing::debug!(
            function = name,
            status,
            attempt = delivery.attempt,
            ?decision,
            "called"
        );
        match decision {
            Decision::Retry(wait) => {
                self.metrics.retried(name, status);
                return Outcome::Retry(wait);
            }
            Decision::Succeeded => self.metrics.succeeded(name),
            Decision::Failed => self.metrics.failed(name, status),
            Decision::Exhausted => self.metrics.dead_lettered(name),
        }

        if let Some(reporter) = &self.reporter {
            reporter.report(&request.function, status, took).await;
        }
        self.send_callback(
            &request,
            status,
            response.as_ref(),
            received,
            delivery.attempt,
            &policy,
        )
        .await;
        if decision != Decision::Exhausted {
            return Outcome::Done;
        }
        let error = error.unwrap_or_else(|| format!("the function answered {status}"));
        tracing::warn!(function = name, status, attempts = delivery.attempt, %error, "call dead-lettered");
        Outcome::DeadLetter(Failure {
            function: Some(request.function),
            status: Some(status),
            error,
        })
    }

    /// A message no call can be made from: kept as a dead letter rather than dropped.
    /// `label`: the function's name in metrics, [`INVALID`] when it has none.
    fn unusable(&self, function: Option<String>, label: &str, error: String) -> Outcome {
        tracing::warn!(function = function.as_deref().unwrap_or(""), %error, "unusable message dead-lettered");
        self.metrics.dead_lettered(label);
        Outcome::DeadLetter(Failure {
            function,
            status: None,
            error,
        })
    }

    async fn send_callback(
        &self,
        request: &QueueRequest,
        status: u16,
        response: Option<&FunctionResponse>,
        received: Instant,
        attempt: u32,
        policy: &RetryPolicy,
    ) {
        let url = match callback_url(request) {
            None => return,
            Some(Ok(url)) => url,
            Some(Err(e)) => {
                tracing::warn!(function = %request.function, error = %e, "invalid callback URL");
                return;
            }
        };
        let report = CallbackReport {
            url: &url,
            function: &request.function,
            call_id: request.header("X-Call-Id"),
            status,
            duration: received.elapsed(),
            retry: attempt.saturating_sub(1),
            retry_max: policy.max_attempts.saturating_sub(1),
            response,
        };
        match self.callback.send(&report).await {
            Ok(_) => self.metrics.callback("delivered"),
            Err(e) => {
                self.metrics.callback("failed");
                tracing::warn!(function = %request.function, error = %e, "callback not delivered");
            }
        }
    }
}

fn answer(status: u16, response: Option<&FunctionResponse>) -> Answer {
    let headers = response.map(|r| &r.headers);
    Answer {
        status,
        retry_after: headers
            .and_then(|h| h.get(RETRY_AFTER))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now())),
        internal: headers.is_some_and(|h| h.contains_key(INTERNAL_ERROR_HEADER)),
    }
}

/// `CallbackUrl`, or the `X-Callback-Url` header when a producer left the field out.
fn callback_url(request: &QueueRequest) -> Option<Result<url::Url, url::ParseError>> {
    match &request.callback_url {
        Some(go) if !go.host.is_empty() => Some(url::Url::try_from(go)),
        _ => request
            .header("X-Callback-Url")
            .filter(|u| !u.trim().is_empty())
            .map(url::Url::parse),
    }
}
