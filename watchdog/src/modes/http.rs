//! of-watchdog `http` mode: a reverse proxy to the upstream workers of the [`Pool`], over
//! keep-alive connections (one awc client, and so one connection pool, per server thread).
//!
//! Per call: the same method, the request URI appended to the worker's base URL, every header
//! but the hop-by-hop ones (the caller's `Host` is kept), the body streamed (a declared
//! `Content-Length` is kept, so upstreams that refuse chunked bodies get one) or, with
//! `http_buffer_req_body`, buffered first. The answer's status, headers and body stream back
//! with `X-Duration-Seconds` added. The call deadline is `exec_timeout` (bounded by
//! `write_timeout`), shortened by an `X-Timeout` request header as of-watchdog allows.
//!
//! Errors, as of-watchdog: an unreachable upstream is 500 and a deadline is 504, both empty and
//! marked `X-OpenFaaS-Internal: of-watchdog`. With no ready worker the call waits for one until
//! its deadline, then gets 503.
//!
//! Retries (once per worker) need a replayable body: empty, or buffered (small bodies of known
//! length are buffered for this). A refused connection is always retried; a failure while
//! sending or before the answer is retried for idempotent methods, as Go's `http.Transport`
//! does, and for any method when the worker is seen to have died holding the call. That is what
//! keeps calls succeeding while a dead worker is restarted.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BodyStream, BoxBody, SizedStream};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use awc::error::SendRequestError;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;

use crate::call::{Call, Deadline, RequestBody};
use crate::config::Config;
use crate::pool::{Lease, Pool};

/// Bodies of known length up to this size are buffered, so the call can be retried.
const REPLAYABLE: u64 = 64 * 1024;
const INTERNAL: (&str, &str) = ("X-OpenFaaS-Internal", "of-watchdog");
/// How long a failed call waits to learn whether its worker died.
const DEATH_GRACE: Duration = Duration::from_millis(250);

pub struct HttpProxy {
    pool: Arc<Pool>,
    buffer_http: bool,
    log_callid: bool,
    exec_timeout: Duration,
}

/// A request body as it will be sent.
enum Body {
    Empty,
    Full(Bytes),
    Sized(u64, RequestBody),
    Chunked(RequestBody),
}

impl Body {
    fn replayable(&self) -> bool {
        matches!(self, Self::Empty | Self::Full(_))
    }
}

impl HttpProxy {
    pub fn new(config: &Config, pool: Arc<Pool>) -> Self {
        Self {
            pool,
            buffer_http: config.buffer_http,
            log_callid: config.log_callid,
            exec_timeout: config.exec_timeout,
        }
    }

    pub async fn invoke(&self, call: Call, client: &awc::Client) -> HttpResponse {
        let deadline = self.deadline(&call);
        let uri = call.path_and_query();
        let mut body = match self.prepare_body(&call.headers, call.body).await {
            Ok(body) => Some(body),
            Err(e) => return e.to_response(),
        };
        let mut tried = Vec::new();
        loop {
            let lease = match self.pool.pick(&tried) {
                Some(lease) => lease,
                None if tried.is_empty() => {
                    if !self.pool.wait_ready(Some(deadline)).await {
                        return no_worker();
                    }
                    continue;
                }
                // Every ready worker refused this call: as of-watchdog for an unreachable one.
                None => return internal(StatusCode::INTERNAL_SERVER_ERROR),
            };
            let Some(this_body) = take_body(&mut body) else {
                return internal(StatusCode::INTERNAL_SERVER_ERROR);
            };
            let replayable = this_body.replayable();
            let url = format!("{}{uri}", lease.worker().base());
            let request = upstream_request(client, &call.method, &call.headers, &url);
            let send = match this_body {
                Body::Empty => request.send(),
                Body::Full(bytes) => request.send_body(bytes),
                Body::Sized(len, stream) => request.send_body(SizedStream::new(len, stream)),
                Body::Chunked(stream) => request.send_stream(stream),
            };
            let response = match tokio::time::timeout_at(deadline, send).await {
                Err(_) => {
                    tracing::warn!(uri, "upstream call killed at the deadline (exec_timeout)");
                    return internal(StatusCode::GATEWAY_TIMEOUT);
                }
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    if replayable && retryable(&error, &call.method, &lease).await {
                        tracing::debug!(worker = lease.worker().index(), %error, "retrying");
                        tried.push(lease.worker().index());
                        continue;
                    }
                    tracing::warn!(worker = lease.worker().index(), %error,
                                   "upstream request failed");
                    return internal(StatusCode::INTERNAL_SERVER_ERROR);
                }
            };
            if self.log_callid {
                let call_id = call.headers.get("x-call-id").and_then(|v| v.to_str().ok());
                tracing::debug!(method = %call.method, uri, status = response.status().as_u16(),
                                call_id = call_id.unwrap_or("none"), "proxied");
            } else {
                tracing::debug!(method = %call.method, uri, status = response.status().as_u16(),
                                "proxied");
            }
            return answer(response, lease, deadline);
        }
    }

    /// The call deadline, shortened by `X-Timeout` when that is within `exec_timeout`.
    fn deadline(&self, call: &Call) -> Instant {
        let asked = call
            .headers
            .get("x-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| faas_provider::duration::parse(v).ok());
        match asked {
            Some(t) if !self.exec_timeout.is_zero() && t <= self.exec_timeout => {
                call.deadline.min(call.started + t)
            }
            _ => call.deadline,
        }
    }

    async fn prepare_body(
        &self,
        headers: &HeaderMap,
        body: RequestBody,
    ) -> Result<Body, crate::call::BodyError> {
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Ok(match (chunked, length) {
            (true, _) if self.buffer_http => Body::Full(body.collect().await?),
            (true, _) => Body::Chunked(body),
            (false, None | Some(0)) => Body::Empty,
            (false, Some(n)) if n <= REPLAYABLE || self.buffer_http => {
                Body::Full(body.collect().await?)
            }
            (false, Some(n)) => Body::Sized(n, body),
        })
    }
}

/// The request to a worker: the caller's method and headers, minus the hop-by-hop ones and
/// those awc sets from the body.
fn upstream_request(
    client: &awc::Client,
    method: &Method,
    headers: &HeaderMap,
    url: &str,
) -> awc::ClientRequest {
    let mut request = client.request(method.clone(), url);
    let out = request.headers_mut();
    for (name, value) in headers.iter() {
        if !hop_by_hop(name) && *name != header::CONTENT_LENGTH && *name != header::EXPECT {
            out.append(name.clone(), value.clone());
        }
    }
    request
}

fn take_body(body: &mut Option<Body>) -> Option<Body> {
    match body {
        Some(Body::Empty) => Some(Body::Empty),
        Some(Body::Full(bytes)) => Some(Body::Full(bytes.clone())),
        _ => body.take(),
    }
}

/// Whether a failed send may be repeated on another worker (the body must be replayable too):
/// always when the connection was refused (nothing was sent); for idempotent methods after a
/// failure while sending or before the answer, as Go's `http.Transport` retries; and for any
/// method when the worker died holding the call (so it never answered, and is being
/// restarted) — of which the pool, unlike Go, knows.
async fn retryable(error: &SendRequestError, method: &Method, lease: &Lease) -> bool {
    match error {
        SendRequestError::Connect(_) => true,
        SendRequestError::Send(_)
        | SendRequestError::Response(_)
        | SendRequestError::H2(_)
        | SendRequestError::Custom(..) => {
            method.is_safe()
                || matches!(*method, Method::PUT | Method::DELETE)
                || lease.worker_died(DEATH_GRACE).await
        }
        _ => false,
    }
}

/// The upstream's answer, streamed back; the worker stays leased until the body is sent.
fn answer(response: awc::ClientResponse, lease: Lease, deadline: Instant) -> HttpResponse {
    let status = response.status();
    let mut builder = HttpResponse::build(status);
    let mut length = None;
    for (name, value) in response.headers().iter() {
        if *name == header::CONTENT_LENGTH {
            length = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        } else if !hop_by_hop(name) {
            builder.append_header((name.clone(), value.clone()));
        }
    }
    if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return builder.finish();
    }
    let stream = Deadline::new(response, deadline).map(move |chunk| {
        let _lease = &lease;
        chunk
    });
    let body = match length {
        Some(len) => BoxBody::new(SizedStream::new(len, Box::pin(stream))),
        None => BoxBody::new(BodyStream::new(Box::pin(stream))),
    };
    builder.body(body)
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
fn hop_by_hop(name: &HeaderName) -> bool {
    *name == header::CONNECTION
        || *name == header::TE
        || *name == header::TRAILER
        || *name == header::TRANSFER_ENCODING
        || *name == header::UPGRADE
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

fn internal(status: StatusCode) -> HttpResponse {
    HttpResponse::build(status).insert_header(INTERNAL).finish()
}

fn no_worker() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(INTERNAL)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/plain")))
        .body("no upstream worker is ready\n")
}
