//! `/system/async-report`: with `gateway_invoke=false` the gateway does not see the call, so
//! the worker tells it the status and duration for its invocation metrics (CONTRACT.md §5.6).

use std::time::Duration;

use faas_provider::auth::Credentials;
use serde::Serialize;

use crate::invoker::error_chain;

#[derive(Serialize)]
struct AsyncReport<'a> {
    name: &'a str,
    #[serde(rename = "statusCode")]
    status_code: u16,
    /// Seconds.
    #[serde(rename = "timeTaken")]
    time_taken: f64,
}

pub struct Reporter {
    client: reqwest::Client,
    url: String,
    credentials: Option<Credentials>,
    timeout: Duration,
}

impl Reporter {
    pub fn new(
        client: reqwest::Client,
        gateway_url: &str,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            url: format!("{}/system/async-report", gateway_url.trim_end_matches('/')),
            credentials,
            timeout,
        }
    }

    /// Best effort, as OpenFaaS: a failure is logged, never retried.
    pub async fn report(&self, function: &str, status: u16, took: Duration) {
        let body = AsyncReport {
            name: function,
            status_code: status,
            time_taken: took.as_secs_f64(),
        };
        let mut req = self
            .client
            .post(&self.url)
            .json(&body)
            .timeout(self.timeout);
        if let Some(c) = &self.credentials {
            req = req.header(reqwest::header::AUTHORIZATION, c.header_value());
        }
        match req.send().await {
            Ok(res) if res.status().is_success() => {}
            Ok(res) => {
                tracing::warn!(
                    function,
                    status = res.status().as_u16(),
                    "async-report refused"
                )
            }
            Err(e) => tracing::warn!(function, error = %error_chain(&e), "async-report failed"),
        }
    }
}
