//! `/function/{name}[/path]`: the streaming invocation proxy (CONTRACT.md §2), any method.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::{BodyStream, BoxBody, SizedStream};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode, Version};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use awc::error::{ConnectError, SendRequestError};
use awc::ClientResponse;

use crate::balancer::{Balancer, InFlight, Ready};
use crate::body::{Guarded, LentBody};
use crate::error::{chain, InvokeError};
use crate::headers::{self, CallIds, X_COLD_START_SECONDS};
use crate::metrics::{FunctionMetrics, Metrics};
use crate::target::Target;

/// Everything the proxy shares across worker threads.
pub struct Invoker {
    pub balancer: Balancer,
    pub metrics: Arc<Metrics>,
    pub namespace: String,
    pub upstream_timeout: Duration,
    pub write_timeout: Duration,
    pub write_request_uri: bool,
}

/// How long an idle connection to a replica is kept for reuse.
const POOL_IDLE: Duration = Duration::from_secs(4);

/// The upstream client of one worker thread (awc is `!Send`): keep-alive pools per replica
/// address, redirects returned to the caller, no headers of its own.
pub fn client(max_conns: usize, connect_timeout: Duration) -> awc::Client {
    awc::Client::builder()
        .connector(
            awc::Connector::new()
                .limit(max_conns)
                .timeout(connect_timeout)
                // Below the 5 s idle timeout of actix and Go servers, so the gateway closes an
                // idle connection before the replica does.
                .conn_keep_alive(POOL_IDLE),
        )
        .disable_redirects()
        .disable_timeout()
        .no_default_headers()
        .finish()
}

/// How the caller framed its body; the upstream request uses the same.
enum Framing {
    None,
    Sized(u64),
    Stream,
}

fn framing(req: &HttpRequest) -> Framing {
    match headers::content_length(req.headers()) {
        Some(n) => Framing::Sized(n),
        // HTTP/1.1 requests without either header have no body; HTTP/2 ones may.
        None if req.headers().contains_key(header::TRANSFER_ENCODING)
            || req.version() == Version::HTTP_2 =>
        {
            Framing::Stream
        }
        None => Framing::None,
    }
}

/// Settles a started call when dropped (at the end of the response body, or when the caller
/// goes away): the status counted, the seconds observed, the in-flight counts released.
struct CallGuard {
    metrics: Arc<FunctionMetrics>,
    started: Instant,
    /// What OpenFaaS counts for a call that never got an answer.
    code: u16,
    _replica: Option<InFlight>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.metrics
            .completed(self.code, self.started.elapsed().as_secs_f64());
    }
}

pub async fn invoke(
    req: HttpRequest,
    payload: web::Payload,
    invoker: web::Data<Invoker>,
    client: web::Data<awc::Client>,
) -> HttpResponse {
    let arrived = Instant::now();
    match invoker
        .call(&req, payload.into_inner(), &client, arrived)
        .await
    {
        Ok(res) => res,
        Err(e) => {
            if e.status().is_server_error() {
                tracing::warn!(path = %req.path(), status = e.status().as_u16(), error = %chain(&e), "invocation failed");
            } else {
                tracing::debug!(path = %req.path(), status = e.status().as_u16(), error = %chain(&e), "invocation refused");
            }
            e.error_response()
        }
    }
}

/// One call in progress: what every attempt at a replica needs.
struct Call<'a> {
    invoker: &'a Invoker,
    req: &'a HttpRequest,
    target: Target,
    ids: CallIds,
    framing: Framing,
    body: LentBody,
}

impl Invoker {
    async fn call(
        &self,
        req: &HttpRequest,
        payload: actix_web::dev::Payload,
        client: &awc::Client,
        arrived: Instant,
    ) -> Result<HttpResponse, InvokeError> {
        let start_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let call = Call {
            invoker: self,
            req,
            target: Target::parse(req.uri().path(), req.uri().query(), &self.namespace)?,
            ids: CallIds::new(req.headers(), start_nanos),
            framing: framing(req),
            body: LentBody::new(payload),
        };
        let ready = self
            .balancer
            .ready(&call.target.function, call.record_cold_start())
            .await?;
        // Registered only once the function is known to exist, so labels stay bounded.
        let function_metrics = self.metrics.function(&call.target.label);
        function_metrics.started();
        let mut guard = CallGuard {
            metrics: function_metrics,
            started: Instant::now(),
            code: StatusCode::BAD_GATEWAY.as_u16(),
            _replica: None,
        };
        match call.send(client, ready).await {
            Ok((res, slot, cold_start)) => {
                guard.code = res.status().as_u16();
                guard._replica = Some(slot);
                Ok(call.respond(res, guard, cold_start, arrived))
            }
            Err(e) => {
                guard.code = e.status().as_u16();
                Err(e)
            }
        }
    }
}

impl Call<'_> {
    fn record_cold_start(&self) -> impl FnOnce(Duration) + '_ {
        |took| {
            self.invoker
                .metrics
                .function(&self.target.label)
                .cold_start(took.as_secs_f64())
        }
    }

    fn upstream_headers(&self) -> HeaderMap {
        let req = self.req;
        let host = req.headers().get(header::HOST).cloned().or_else(|| {
            req.uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        headers::upstream_request(req.headers(), host.as_ref(), req.peer_addr(), &self.ids)
    }

    fn timed_out(&self) -> InvokeError {
        InvokeError::Timeout {
            function: self.target.function.to_string(),
            timeout: self.invoker.upstream_timeout,
        }
    }

    /// Sends the call to the least-busy replica, moving on to another when one refuses the
    /// connection, until a replica answers (with any status) or none is left. Also returns how
    /// long the call waited for a cold start, if it did.
    async fn send(
        &self,
        client: &awc::Client,
        mut ready: Ready,
    ) -> Result<(ClientResponse, InFlight, Option<Duration>), InvokeError> {
        let function = &self.target.function;
        let deadline = Instant::now() + self.invoker.upstream_timeout;
        // Built again only for a retry, which is rare.
        let mut first_headers = Some(self.upstream_headers());
        let mut tried: Vec<String> = Vec::new();
        let mut last_failure = String::from("no replica left to try");
        let mut refreshed = false;
        let mut retried_stale = false;
        loop {
            let Some(slot) = ready.pick(&tried) else {
                // Every known replica refused: ask the provider once more (it may have replaced
                // them, or they may be gone and need a scale from zero).
                if refreshed || self.body.polled() {
                    return Err(InvokeError::Unreachable {
                        function: function.to_string(),
                        cause: last_failure,
                    });
                }
                refreshed = true;
                self.invoker.balancer.invalidate(function);
                ready = self
                    .invoker
                    .balancer
                    .ready(function, self.record_cold_start())
                    .await?;
                continue;
            };
            let Some(remaining) = deadline.checked_duration_since(Instant::now()) else {
                return Err(self.timed_out());
            };
            let address = &slot.replica().address;
            let uri = format!("http://{address}{}", self.target.path_and_query);
            if self.invoker.write_request_uri {
                tracing::info!(function = %function, url = %uri, "forwarding");
            }
            let mut upstream = client
                .request(self.req.method().clone(), uri.as_str())
                .timeout(remaining);
            *upstream.headers_mut() = first_headers
                .take()
                .unwrap_or_else(|| self.upstream_headers());
            let sent = match self.framing {
                Framing::None => upstream.send_body(actix_web::body::None::new()).await,
                Framing::Sized(0) => upstream.send_body(()).await,
                Framing::Sized(n) => {
                    upstream
                        .send_body(SizedStream::new(n, self.body.clone()))
                        .await
                }
                Framing::Stream => upstream.send_stream(self.body.clone()).await,
            };
            match sent {
                // The cold start of the list that served, which may be a refreshed one.
                Ok(res) => return Ok((res, slot, ready.cold_start)),
                // Nothing reached the replica: another one may take the call.
                Err(SendRequestError::Connect(e)) if connect_failed(&e) && !self.body.polled() => {
                    tracing::warn!(function = %function, replica = %address, error = %e, "replica refused the connection; trying another");
                    ready.replica_failed();
                    last_failure = format!("{address}: {e}");
                    tried.push(address.clone());
                }
                // A kept-alive connection the replica had just closed: safe to send again when
                // the request is idempotent and carried no body (Go's transport does the same).
                Err(ref e)
                    if !retried_stale
                        && stale_connection(e)
                        && replayable(self.req.method(), &self.body) =>
                {
                    tracing::debug!(function = %function, replica = %address, error = %e, "kept-alive connection was closed; sending again");
                    retried_stale = true;
                }
                Err(SendRequestError::Timeout) => return Err(self.timed_out()),
                Err(
                    e @ (SendRequestError::Body(_)
                    | SendRequestError::Url(_)
                    | SendRequestError::Http(_)),
                ) => {
                    return Err(InvokeError::BadRequest {
                        function: function.to_string(),
                        source: e,
                    })
                }
                Err(e) => {
                    ready.replica_failed();
                    return Err(InvokeError::Unreachable {
                        function: function.to_string(),
                        cause: format!("{address}: {e}"),
                    });
                }
            }
        }
    }

    /// The replica's answer, streamed to the caller; `guard` settles the call when the body ends.
    fn respond(
        &self,
        res: ClientResponse,
        guard: CallGuard,
        cold_start: Option<Duration>,
        arrived: Instant,
    ) -> HttpResponse {
        let status = res.status();
        let mut response_headers = HeaderMap::new();
        headers::response(
            res.headers(),
            status == StatusCode::NOT_MODIFIED,
            &self.ids,
            &mut response_headers,
        );
        if let Some(waited) = cold_start {
            if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", waited.as_secs_f64())) {
                response_headers.insert(X_COLD_START_SECONDS, v);
            }
        }
        let no_body = status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let body = if no_body {
            BoxBody::new(())
        } else {
            // The body is cut at write_timeout from the call's arrival, as Go's server does.
            let write_left = (arrived + self.invoker.write_timeout)
                .checked_duration_since(Instant::now())
                .unwrap_or(Duration::ZERO);
            let length = headers::content_length(res.headers());
            let stream = Guarded::new(res.timeout(write_left), guard);
            match length {
                Some(n) => BoxBody::new(SizedStream::new(n, stream)),
                None => BoxBody::new(BodyStream::new(stream)),
            }
        };
        let mut response = HttpResponse::with_body(status, body);
        *response.headers_mut() = response_headers;
        response
    }
}

/// The replica closed a pooled connection as the request went out: nothing was answered.
fn stale_connection(e: &SendRequestError) -> bool {
    matches!(
        e,
        SendRequestError::Send(_) | SendRequestError::Connect(ConnectError::Disconnected)
    )
}

/// Sending it twice is harmless: an idempotent method, no body read.
fn replayable(method: &Method, body: &LentBody) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) && !body.polled()
}

/// Connection failures that happen before anything is sent.
fn connect_failed(e: &ConnectError) -> bool {
    matches!(
        e,
        ConnectError::Io(_)
            | ConnectError::Timeout
            | ConnectError::Resolver(_)
            | ConnectError::NoRecords
            | ConnectError::Unresolved
    )
}
