//! Calls a function for a queued request, keeping its method, path, query, headers and body:
//! through the gateway (`/function/<name><path>`) or straight to a ready replica.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use faas_provider::types::{Endpoint, QueueRequest};
use faas_provider::{FunctionName, FunctionRef, Provider, ProviderError};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// How long a function's replica list is reused before asking the provider again.
const ENDPOINTS_TTL: Duration = Duration::from_secs(2);

/// Headers that describe one connection, not the request, so they are not copied.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// What a function answered, read in full (it goes to the callback).
#[derive(Clone, Debug)]
pub struct FunctionResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The queued request cannot be turned into an HTTP request: retrying cannot help.
    #[error("invalid queued request: {0}")]
    Invalid(String),
    #[error("function {0} has no ready replica")]
    NoReplica(String),
    #[error("resolving function {function}")]
    Resolve {
        function: String,
        #[source]
        source: ProviderError,
    },
    #[error("calling {url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("calling {url}: no answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
}

impl InvokeError {
    /// The status reported for a call that got no response (OpenFaaS reports 503); `None`
    /// when the request itself is unusable.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Invalid(_) => None,
            Self::NoReplica(_) | Self::Transport { .. } => Some(503),
            Self::Timeout { .. } => Some(504),
            Self::Resolve { source, .. } => Some(source.status().as_u16()),
        }
    }
}

pub struct Invoker {
    client: reqwest::Client,
    target: Target,
    timeout: Duration,
}

enum Target {
    /// `http://<gateway>:<port>`
    Gateway(String),
    Direct(Resolver),
}

impl Invoker {
    pub fn via_gateway(client: reqwest::Client, gateway_url: &str, timeout: Duration) -> Self {
        Self {
            client,
            target: Target::Gateway(gateway_url.trim_end_matches('/').to_owned()),
            timeout,
        }
    }

    pub fn direct(client: reqwest::Client, provider: Arc<dyn Provider>, timeout: Duration) -> Self {
        Self {
            client,
            target: Target::Direct(Resolver {
                provider,
                cache: Mutex::new(HashMap::new()),
                next: AtomicUsize::new(0),
            }),
            timeout,
        }
    }

    pub async fn invoke(
        &self,
        request: &QueueRequest,
        function: &FunctionRef,
    ) -> Result<FunctionResponse, InvokeError> {
        let path = match request.path.as_str() {
            "" => "/".to_owned(),
            p if p.starts_with('/') => p.to_owned(),
            p => format!("/{p}"),
        };
        let base = match &self.target {
            Target::Gateway(gw) => {
                format!("{gw}/function/{}{path}", request.function.trim_matches('/'))
            }
            Target::Direct(resolver) => {
                let endpoint = resolver.pick(&function.name).await?;
                format!("http://{}{path}", endpoint.address)
            }
        };
        let query = request.query_string.trim_start_matches('?');
        let url = if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        };
        let parsed =
            url::Url::parse(&url).map_err(|e| InvokeError::Invalid(format!("URL {url:?}: {e}")))?;
        let method = match request.method.as_str() {
            "" => reqwest::Method::POST,
            m => reqwest::Method::from_bytes(m.as_bytes())
                .map_err(|_| InvokeError::Invalid(format!("method {m:?}")))?,
        };
        let result = self
            .client
            .request(method, parsed)
            .headers(copy_headers(request))
            .body(request.body.clone())
            .timeout(self.timeout)
            .send()
            .await;
        let response = async {
            let res = result?;
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res.bytes().await?;
            Ok::<_, reqwest::Error>(FunctionResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        response.map_err(|e| {
            if let Target::Direct(resolver) = &self.target {
                // The replica may be gone: ask the provider again next time.
                resolver.forget(&function.name);
            }
            if e.is_timeout() {
                InvokeError::Timeout {
                    url: url.clone(),
                    timeout: self.timeout,
                }
            } else {
                InvokeError::Transport {
                    url: url.clone(),
                    reason: error_chain(&e),
                }
            }
        })
    }
}

/// The queued headers, minus hop-by-hop ones and any that are not valid HTTP.
fn copy_headers(request: &QueueRequest) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in &request.header {
        if is_hop_by_hop(name) {
            continue;
        }
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            tracing::debug!(header = %name, "invalid header name dropped");
            continue;
        };
        for value in values {
            match HeaderValue::from_str(value) {
                Ok(v) => {
                    headers.append(name.clone(), v);
                }
                Err(_) => tracing::debug!(header = %name, "invalid header value dropped"),
            }
        }
    }
    headers
}

/// `e` and its sources, joined: reqwest's own message alone says little.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Each function's ready replicas and when they were fetched.
type EndpointCache = HashMap<FunctionName, (Instant, Arc<[Endpoint]>)>;

/// Ready replicas from the provider, cached briefly, taken in turn.
struct Resolver {
    provider: Arc<dyn Provider>,
    cache: Mutex<EndpointCache>,
    next: AtomicUsize,
}

impl Resolver {
    async fn pick(&self, name: &FunctionName) -> Result<Endpoint, InvokeError> {
        let endpoints = self.endpoints(name).await?;
        if endpoints.is_empty() {
            return Err(InvokeError::NoReplica(name.to_string()));
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % endpoints.len();
        Ok(endpoints[i].clone())
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<Arc<[Endpoint]>, InvokeError> {
        if let Some((at, eps)) = self.lock().get(name) {
            if at.elapsed() < ENDPOINTS_TTL {
                return Ok(eps.clone());
            }
        }
        let ready = self
            .provider
            .endpoints(name)
            .await
            .map_err(|source| InvokeError::Resolve {
                function: name.to_string(),
                source,
            })?;
        let eps: Arc<[Endpoint]> = ready.endpoints.into();
        self.lock()
            .insert(name.clone(), (Instant::now(), eps.clone()));
        Ok(eps)
    }

    fn forget(&self, name: &FunctionName) {
        self.lock().remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EndpointCache> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}
