//! Invocation counts for the list API, read from Prometheus (CONTRACT.md §1.6.1).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

/// Summed over status codes, per `function_name`.
const QUERY: &str = "sum(gateway_function_invocation_total) by (function_name)";

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("querying Prometheus at {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Prometheus at {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("Prometheus at {url} answered an unreadable body")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Prometheus at {url} answered a value {value:?} that is not a number")]
    Value { url: String, value: String },
}

#[derive(Clone, Debug)]
pub struct InvocationCounts {
    client: reqwest::Client,
    url: String,
}

#[derive(Deserialize)]
struct QueryResponse {
    data: QueryData,
}

#[derive(Deserialize)]
struct QueryData {
    #[serde(default)]
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    #[serde(default)]
    metric: HashMap<String, String>,
    /// `[unix_time, "value"]`.
    value: (f64, String),
}

impl InvocationCounts {
    pub fn new(host: &str, port: u16, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            client,
            url: format!("http://{host}:{port}/api/v1/query"),
        }
    }

    /// Invocations per `function_name` label value.
    pub async fn fetch(&self) -> Result<HashMap<String, f64>, PrometheusError> {
        let url = self.url.clone();
        let res = self
            .client
            .get(&self.url)
            .query(&[("query", QUERY)])
            .send()
            .await
            .map_err(|source| PrometheusError::Request {
                url: url.clone(),
                source,
            })?;
        if !res.status().is_success() {
            return Err(PrometheusError::Status {
                url,
                status: res.status().as_u16(),
            });
        }
        let body: QueryResponse = res.json().await.map_err(|source| PrometheusError::Body {
            url: url.clone(),
            source,
        })?;
        let mut counts = HashMap::new();
        for sample in body.data.result {
            let Some(name) = sample.metric.get("function_name") else {
                continue;
            };
            let value: f64 = sample.value.1.parse().map_err(|_| PrometheusError::Value {
                url: url.clone(),
                value: sample.value.1.clone(),
            })?;
            *counts.entry(name.clone()).or_default() += value;
        }
        Ok(counts)
    }
}

/// A function's count: its label is `name` (Swarm-era gateways) or `name.namespace`; both count.
pub fn count_for(counts: &HashMap<String, f64>, name: &str, namespace: &str) -> f64 {
    let plain = counts.get(name).copied().unwrap_or_default();
    let qualified = counts
        .get(&format!("{name}.{namespace}"))
        .copied()
        .unwrap_or_default();
    plain + qualified
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_query_answer() {
        let json = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"function_name":"echo.openfaas-fn"},"value":[1700000000.1,"7"]},
            {"metric":{"function_name":"echo"},"value":[1700000000.1,"2"]},
            {"metric":{},"value":[1700000000.1,"9"]}]}}"#;
        let r: QueryResponse = serde_json::from_str(json).unwrap();
        assert_eq!(r.data.result.len(), 3);
        let counts: HashMap<String, f64> = [
            ("echo.openfaas-fn".to_owned(), 7.0),
            ("echo".to_owned(), 2.0),
        ]
        .into_iter()
        .collect();
        assert_eq!(count_for(&counts, "echo", "openfaas-fn"), 9.0);
        assert_eq!(count_for(&counts, "other", "openfaas-fn"), 0.0);
    }
}
