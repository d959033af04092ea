//! What wraps every call on the function route: the `max_inflight` limit (429), the in-flight
//! count that graceful shutdown waits on, the Prometheus metrics, and `X-Duration-Seconds`.
//!
//! A call lasts until its response body has been sent (or dropped), not until the handler
//! returns, so a streaming response holds its `max_inflight` slot and its place in the drain
//! to the end; its duration is observed then, as Go's promhttp observes it when the handler
//! returns after copying the stream. `X-Duration-Seconds` must go out with the headers, so for
//! a streaming response it is the time to the first byte.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::Metrics;

pub const X_DURATION_SECONDS: HeaderName = HeaderName::from_static("x-duration-seconds");

pub struct Calls {
    max_inflight: usize,
    admitted: AtomicUsize,
    active: AtomicUsize,
    idle: Notify,
    metrics: Metrics,
}

impl Calls {
    pub fn new(max_inflight: usize, metrics: Metrics) -> Self {
        Self {
            max_inflight,
            admitted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            idle: Notify::new(),
            metrics,
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Calls on the function route right now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Whether a new call would be refused (`/_/ready` answers 429 then).
    pub fn at_limit(&self) -> bool {
        self.max_inflight > 0 && self.admitted.load(Ordering::SeqCst) >= self.max_inflight
    }

    /// Resolves once no call is active.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn begin(self: &Arc<Self>, method: Method) -> CallGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.metrics.call_started();
        CallGuard {
            calls: Arc::clone(self),
            method,
            started: Instant::now(),
            code: 500,
            admitted: false,
        }
    }

    /// Takes a `max_inflight` slot for `guard`; false when none is free.
    fn admit(&self, guard: &mut CallGuard) -> bool {
        if self.max_inflight == 0 {
            return true;
        }
        let now = self.admitted.fetch_add(1, Ordering::SeqCst) + 1;
        if now > self.max_inflight {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        guard.admitted = true;
        true
    }
}

/// One call in flight; counted out when dropped.
struct CallGuard {
    calls: Arc<Calls>,
    method: Method,
    started: Instant,
    code: u16,
    admitted: bool,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let calls = &self.calls;
        if self.admitted {
            calls.admitted.fetch_sub(1, Ordering::SeqCst);
        }
        calls
            .metrics
            .call_finished(&self.method, self.code, self.started.elapsed());
        if calls.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            calls.idle.notify_waiters();
        }
    }
}

/// The middleware on the function route (`actix_web::middleware::from_fn`).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Tracked>, actix_web::Error> {
    let Some(calls) = req
        .app_data::<web::Data<Calls>>()
        .map(|d| d.clone().into_inner())
    else {
        return Err(actix_web::error::ErrorInternalServerError(
            "call tracking is not set up",
        ));
    };
    let mut guard = calls.begin(req.method().clone());
    let http_req = req.request().clone();
    let mut response = if calls.admit(&mut guard) {
        match next.call(req).await {
            Ok(response) => response.map_into_boxed_body(),
            Err(error) => ServiceResponse::new(http_req, error.error_response()),
        }
    } else {
        ServiceResponse::new(http_req, too_many(calls.max_inflight))
    };
    let headers = response.headers_mut();
    if !headers.contains_key(X_DURATION_SECONDS) {
        let seconds = format!("{:.6}", guard.started.elapsed().as_secs_f64());
        if let Ok(value) = HeaderValue::from_str(&seconds) {
            headers.insert(X_DURATION_SECONDS, value);
        }
    }
    guard.code = response.status().as_u16();
    Ok(response.map_body(|_, body| Tracked { body, guard }))
}

/// faas-middleware's answer past `max_inflight`.
fn too_many(max: usize) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header((CONTENT_TYPE, "text/plain"))
        .insert_header(("X-OpenFaaS-Internal", "faas-middleware"))
        .body(format!(
            "Concurrent request limit exceeded. Max concurrent requests: {max}\n"
        ))
}

/// A response body that keeps its call counted until it is done.
pub struct Tracked {
    body: BoxBody,
    guard: CallGuard,
}

impl MessageBody for Tracked {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracked")
            .field("method", &self.guard.method)
            .finish_non_exhaustive()
    }
}
