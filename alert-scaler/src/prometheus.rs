//! A minimal Prometheus HTTP API client: instant queries returning a vector.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("invalid Prometheus URL {url:?}")]
    Url {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("querying Prometheus at {url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Prometheus refused {query:?}: {error_type}: {error}")]
    Refused {
        query: String,
        error_type: String,
        error: String,
    },
    #[error("Prometheus answered {status} without a usable body for {query:?}")]
    BadAnswer { query: String, status: u16 },
    #[error("Prometheus answered {result_type} for {query:?}, not a vector")]
    NotAVector { query: String, result_type: String },
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: HashMap<String, String>,
    pub value: f64,
}

#[derive(Clone, Debug)]
pub struct PrometheusClient {
    query_url: url::Url,
    client: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error_type: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<RawSample>,
}

#[derive(Deserialize)]
struct RawSample {
    metric: HashMap<String, String>,
    /// `[<unix time>, "<value>"]`.
    value: (f64, String),
}

impl PrometheusClient {
    /// `base` as `http://prometheus:9090/`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, QueryError> {
        let query_url = url::Url::parse(base)
            .and_then(|u| u.join("api/v1/query"))
            .map_err(|source| QueryError::Url {
                url: base.to_owned(),
                source,
            })?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(QueryError::Client)?;
        Ok(Self { query_url, client })
    }

    /// Runs an instant query; `NaN` and unparsable values are dropped.
    pub async fn query(&self, query: &str) -> Result<Vec<Sample>, QueryError> {
        let transport = |source| QueryError::Transport {
            url: self.query_url.to_string(),
            source,
        };
        let res = self
            .client
            .post(self.query_url.clone())
            .form(&[("query", query)])
            .send()
            .await
            .map_err(transport)?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(transport)?;
        let answer: Answer = serde_json::from_slice(&bytes).map_err(|_| QueryError::BadAnswer {
            query: query.to_owned(),
            status,
        })?;
        if answer.status != "success" {
            return Err(QueryError::Refused {
                query: query.to_owned(),
                error_type: answer.error_type,
                error: answer.error,
            });
        }
        let data = answer.data.ok_or_else(|| QueryError::BadAnswer {
            query: query.to_owned(),
            status,
        })?;
        if data.result_type != "vector" {
            return Err(QueryError::NotAVector {
                query: query.to_owned(),
                result_type: data.result_type,
            });
        }
        Ok(data
            .result
            .into_iter()
            .filter_map(|s| {
                let value: f64 = s.value.1.parse().ok()?;
                (!value.is_nan()).then_some(Sample {
                    labels: s.metric,
                    value,
                })
            })
            .collect())
    }
}
