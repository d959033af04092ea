//! One function call as the modes see it: the request's parts, its body (read against
//! `read_timeout`), and the deadline the call must finish by.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use crate::cgi::RequestParts;

/// A call to the function.
pub struct Call {
    pub method: Method,
    /// The path as received (percent-encoded).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: RequestBody,
    pub started: Instant,
    /// When the call is abandoned (`exec_timeout`, bounded by `write_timeout`).
    pub deadline: Instant,
}

impl Call {
    pub fn new(
        req: &HttpRequest,
        payload: Payload,
        read_timeout: Duration,
        call_timeout: Duration,
    ) -> Self {
        let started = Instant::now();
        Self {
            method: req.method().clone(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            headers: req.headers().clone(),
            body: RequestBody::new(payload, started + read_timeout, read_timeout),
            started,
            deadline: started + call_timeout,
        }
    }

    /// A body-less `GET` of `path_and_query` with `req`'s headers: `/_/ready` with `ready_path`.
    pub fn probe(req: &HttpRequest, path_and_query: &str, call_timeout: Duration) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let started = Instant::now();
        Self {
            method: Method::GET,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: req.headers().clone(),
            body: RequestBody::empty(),
            started,
            deadline: started + call_timeout,
        }
    }

    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
        }
    }

    /// `path?query` as received (Go's `RequestURI`).
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body took longer than read_timeout ({0:?}) to arrive")]
    Timeout(Duration),
    #[error("cannot read the request body")]
    Payload(#[source] PayloadError),
}

impl BodyError {
    /// The answer to a caller whose body could not be read.
    pub fn to_response(&self) -> HttpResponse {
        match self {
            Self::Timeout(_) => text(StatusCode::REQUEST_TIMEOUT, format!("{self}\n")),
            Self::Payload(source) => text(StatusCode::BAD_REQUEST, format!("{self}: {source}\n")),
        }
    }
}

/// The request body as a stream that fails once `read_timeout` has passed since the call began.
pub struct RequestBody {
    inner: Deadline<Payload>,
    read_timeout: Duration,
}

impl RequestBody {
    pub fn new(payload: Payload, deadline: Instant, read_timeout: Duration) -> Self {
        Self {
            inner: Deadline::new(payload, deadline),
            read_timeout,
        }
    }

    pub fn empty() -> Self {
        Self::new(Payload::None, Instant::now(), Duration::ZERO)
    }

    /// The whole body in memory.
    pub async fn collect(mut self) -> Result<Bytes, BodyError> {
        let Some(first) = self.next().await.transpose()? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.next().await.transpose()? else {
            return Ok(first);
        };
        let mut all = BytesMut::with_capacity(first.len() + second.len());
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(chunk) = self.next().await.transpose()? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }
}

impl Stream for RequestBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let read_timeout = self.read_timeout;
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|r| {
                r.map_err(|e| match e {
                    DeadlineError::Inner(e) => BodyError::Payload(e),
                    DeadlineError::Elapsed => BodyError::Timeout(read_timeout),
                })
            })
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeadlineError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Inner(E),
    #[error("the call deadline passed")]
    Elapsed,
}

/// A byte stream that fails once `deadline` passes, if it has not ended by then. Data already
/// available is delivered before the deadline is looked at.
pub struct Deadline<S> {
    inner: S,
    sleep: Pin<Box<Sleep>>,
    finished: bool,
}

impl<S> Deadline<S> {
    pub fn new(inner: S, deadline: Instant) -> Self {
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            finished: false,
        }
    }
}

impl<S, E> Stream for Deadline<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
{
    type Item = Result<Bytes, DeadlineError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(Some(Err(e))) => {
                self.finished = true;
                Poll::Ready(Some(Err(DeadlineError::Inner(e))))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.finished = true;
                    Poll::Ready(Some(Err(DeadlineError::Elapsed)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// A plain-text answer from the watchdog itself.
pub fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}
