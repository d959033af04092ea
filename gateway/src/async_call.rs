//! `POST /async-function/{name}[/path]` (CONTRACT.md §5.2): checks the function exists, stores
//! the call on JetStream, and answers 202 only once JetStream has acknowledged it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::BytesMut;
use faas_provider::queue::{Publisher, QueueError, QUEUE_ANNOTATION};
use faas_provider::types::{GoUrl, QueueRequest, StringMap};
use faas_provider::{FunctionName, Provider, ProviderError};
use futures::StreamExt;

use crate::error::{chain, InvokeError};
use crate::headers::{CallIds, X_CALL_ID, X_START_TIME};
use crate::target::Target;

pub const PREFIX: &str = "/async-function/";
const X_CALLBACK_URL: &str = "x-callback-url";
/// A function's annotations (its queue and retry policy) are looked up at most this often.
const LOOKUP_TTL: Duration = Duration::from_secs(2);

/// Why a call was not queued; the status says who failed.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error(transparent)]
    Target(#[from] InvokeError),
    #[error("X-Callback-Url {0:?} is not an absolute http or https URL")]
    CallbackUrl(String),
    #[error("the request body is larger than the async limit of {limit} bytes (max_async_body)")]
    TooLarge { limit: usize },
    #[error("reading the request body failed: {0}")]
    Body(String),
    #[error("the call was not queued")]
    Queue(#[source] QueueError),
}

impl EnqueueError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Target(e) => e.status(),
            Self::CallbackUrl(_) | Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } | Self::Queue(QueueError::TooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::Queue(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            Self::Queue(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What the async route needs: the publisher, the provider (to check the function), limits.
pub struct AsyncInvoker {
    publisher: Publisher,
    provider: Arc<dyn Provider>,
    namespace: String,
    max_body: usize,
    annotations: Mutex<HashMap<FunctionName, (Instant, StringMap)>>,
}

impl AsyncInvoker {
    pub fn new(
        publisher: Publisher,
        provider: Arc<dyn Provider>,
        namespace: String,
        max_body: usize,
    ) -> Self {
        Self {
            publisher,
            provider,
            namespace,
            max_body,
            annotations: Mutex::default(),
        }
    }

    /// The function's annotations, from a short-lived cache so bursts of calls do not each
    /// cost the provider a lookup; an unknown function is never cached.
    async fn annotations(&self, name: &FunctionName) -> Result<StringMap, InvokeError> {
        if let Some((at, a)) = self.cache().get(name) {
            if at.elapsed() < LOOKUP_TTL {
                return Ok(a.clone());
            }
        }
        let status = self.provider.get(name).await.map_err(|e| match e {
            ProviderError::FunctionNotFound(n) => InvokeError::FunctionNotFound(n),
            source => InvokeError::Lookup {
                function: name.to_string(),
                source,
            },
        })?;
        self.cache()
            .insert(name.clone(), (Instant::now(), status.annotations.clone()));
        Ok(status.annotations)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<FunctionName, (Instant, StringMap)>> {
        self.annotations.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn enqueue(
        &self,
        req: &HttpRequest,
        mut payload: web::Payload,
    ) -> Result<CallIds, EnqueueError> {
        let target = Target::parse_under(PREFIX, req.uri().path(), None, &self.namespace)?;
        // `Function` and `Path` as Go's gateway sends them: the segment as written
        // (`figlet` or `figlet.openfaas-fn`) and what follows it (`""`, `/`, `/a/b`).
        let rest = req.uri().path().strip_prefix(PREFIX).unwrap_or_default();
        let (segment, tail) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let callback_url = match req.headers().get(X_CALLBACK_URL) {
            None => None,
            Some(v) => {
                let raw = String::from_utf8_lossy(v.as_bytes()).into_owned();
                match url::Url::parse(&raw) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
                        Some(GoUrl::from(&u))
                    }
                    _ => return Err(EnqueueError::CallbackUrl(raw)),
                }
            }
        };
        let annotations = self.annotations(&target.function).await?;

        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| EnqueueError::Body(e.to_string()))?;
            if body.len() + chunk.len() > self.max_body {
                return Err(EnqueueError::TooLarge {
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }

        let start_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let ids = CallIds::new(req.headers(), start_nanos);
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in req.headers() {
            headers
                .entry(canonical(name.as_str()))
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        for (name, value) in [(&X_CALL_ID, &ids.call_id), (&X_START_TIME, &ids.start_time)] {
            headers.insert(
                canonical(name.as_str()),
                vec![String::from_utf8_lossy(value.as_bytes()).into_owned()],
            );
        }
        let request = QueueRequest {
            header: headers,
            host: req
                .headers()
                .get(header::HOST)
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
                .unwrap_or_default(),
            body: body.to_vec(),
            method: req.method().to_string(),
            path: tail.to_owned(),
            query_string: req.uri().query().unwrap_or_default().to_owned(),
            function: segment.to_owned(),
            queue_name: annotations
                .get(QUEUE_ANNOTATION)
                .cloned()
                .unwrap_or_default(),
            callback_url,
            annotations,
            ..Default::default()
        };
        self.publisher
            .publish(&request)
            .await
            .map_err(EnqueueError::Queue)?;
        Ok(ids)
    }
}

/// Go's canonical header spelling (`x-call-id` → `X-Call-Id`), as queue messages carry it.
pub fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

pub async fn enqueue(
    req: HttpRequest,
    payload: web::Payload,
    invoker: web::Data<AsyncInvoker>,
) -> HttpResponse {
    // Go's router: a matched path with another method is a 405 with an empty body.
    if req.method() != actix_web::http::Method::POST {
        return HttpResponse::MethodNotAllowed().finish();
    }
    match invoker.enqueue(&req, payload).await {
        Ok(ids) => HttpResponse::Accepted()
            .insert_header((X_CALL_ID, ids.call_id))
            .insert_header((X_START_TIME, ids.start_time))
            .finish(),
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                tracing::warn!(path = %req.path(), status = status.as_u16(), error = %chain(&e), "async call not queued");
            }
            HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .body(chain(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_header_names() {
        for (raw, want) in [
            ("x-call-id", "X-Call-Id"),
            ("content-type", "Content-Type"),
            ("X-CALLBACK-URL", "X-Callback-Url"),
            ("a", "A"),
        ] {
            assert_eq!(canonical(raw), want);
        }
    }

    #[test]
    fn statuses() {
        let cases = [
            (EnqueueError::CallbackUrl("x".into()), 400),
            (EnqueueError::TooLarge { limit: 1 }, 413),
            (
                EnqueueError::Queue(QueueError::TooLarge { size: 2, max: 1 }),
                413,
            ),
            (EnqueueError::Queue(QueueError::NotConnected), 503),
            (EnqueueError::Queue(QueueError::Encode("x".into())), 500),
            (
                EnqueueError::Target(InvokeError::FunctionNotFound("f".into())),
                404,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.status().as_u16(), want, "{e}");
        }
    }
}
