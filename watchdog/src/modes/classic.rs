//! The classic watchdog: fork `fprocess` per call, the whole body on stdin, all output
//! buffered, the CGI environment, and the classic watchdog's statuses and log lines.
//!
//! Statuses: 405 for methods other than GET, POST, PUT, PATCH and DELETE; 400/408 when the body
//! cannot be read; 408 `Killed process.` when the call outlives `exec_timeout` (or
//! `write_timeout`, past which Go could no longer answer anyway); 500 with `exit status N` and
//! the output for a non-zero exit or a command that cannot start; otherwise 200.
//! `Forking fprocess.` and `Wrote N Bytes - Duration: Ss` are logged per call because the
//! OpenFaaS certifier looks for them.
//!
//! The child runs in its own task: a caller that hangs up does not kill it, as in Go, but the
//! call deadline still does.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use base64::Engine;
use bytes::Bytes;

use crate::call::{text, Call};
use crate::cgi::{self, Flavor};
use crate::config::Config;
use crate::logs::{LogSink, Stream};
use crate::process::{self, Buffered, Exit, Fprocess, StderrTo};
use crate::reaper::Reaper;
use crate::sniff;

pub struct Classic {
    fprocess: Fprocess,
    cgi_headers: bool,
    marshal_request: bool,
    combine_output: bool,
    content_type: Option<String>,
    write_debug: bool,
    debug_headers: bool,
    stderr: LogSink,
    reaper: Arc<Reaper>,
}

impl Classic {
    pub fn new(config: &Config, fprocess: Fprocess, reaper: Arc<Reaper>) -> Self {
        Self {
            fprocess,
            cgi_headers: config.cgi_headers,
            marshal_request: config.marshal_request,
            combine_output: config.combine_output,
            content_type: config.content_type.clone(),
            write_debug: config.write_debug,
            debug_headers: config.debug_headers,
            stderr: LogSink::new(Stream::Stderr, config),
            reaper,
        }
    }

    pub async fn invoke(&self, call: Call) -> HttpResponse {
        if !matches!(
            call.method,
            Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            return HttpResponse::MethodNotAllowed().finish();
        }
        if self.debug_headers {
            for (name, value) in call.headers.iter() {
                tracing::info!("[in] {}={:?}", cgi::canonical_name(name.as_str()), value);
            }
        }
        tracing::info!("Forking fprocess.");

        let mut cmd = self.fprocess.command();
        if self.cgi_headers {
            cmd.envs(cgi::environment(&call.parts(), Flavor::Classic));
        }
        let header_map = self
            .marshal_request
            .then(|| cgi::go_header_map(&call.headers));
        let request_type = call.headers.get(CONTENT_TYPE).cloned();
        let started = call.started;

        let body = match call.body.collect().await {
            Ok(body) => body,
            Err(e) => return e.to_response(),
        };
        let input = match header_map {
            Some(header) => marshal(header, &body),
            None => body,
        };
        let stderr = if self.combine_output {
            StderrTo::Output
        } else {
            StderrTo::Log(self.stderr)
        };
        let result =
            process::run_detached(cmd, input, stderr, call.deadline, self.reaper.clone()).await;
        let Buffered { output, exit } = match result {
            Ok(done) => done,
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_body()),
        };
        let elapsed = started.elapsed().as_secs_f64();
        match exit {
            Exit::TimedOut => {
                tracing::warn!(fprocess = self.fprocess.program(), "Killed process.");
                text(StatusCode::REQUEST_TIMEOUT, "Killed process.\n")
            }
            Exit::WaitFailed(error) => {
                tracing::error!(%error, "cannot wait for the function");
                text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n"))
            }
            Exit::Status(status) if !status.success() => {
                let mut body = format!("{}\n", process::describe_status(&status)).into_bytes();
                body.extend_from_slice(&output);
                HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body(body)
            }
            Exit::Status(_) => {
                if self.write_debug {
                    let _ = std::io::stdout().lock().write_all(&output);
                    tracing::info!("Duration: {elapsed:.6}s");
                } else {
                    tracing::info!("Wrote {} Bytes - Duration: {elapsed:.6}s", output.len());
                }
                let mut response = HttpResponse::Ok();
                let content_type = match (&self.content_type, request_type) {
                    (Some(forced), _) => HeaderValue::from_str(forced).ok(),
                    (None, Some(from_request)) => Some(from_request),
                    (None, None) => sniff::content_type(&output).map(HeaderValue::from_static),
                };
                if let Some(value) = content_type {
                    response.insert_header((CONTENT_TYPE, value));
                }
                response.body(output)
            }
        }
    }
}

/// `marshal_request=true`: `{"header": {...}, "body": {"raw": "<base64>"}}`, as Go's
/// `json.Marshal` writes its `MarshalReq` (fields in declaration order, sorted header names).
fn marshal(header: BTreeMap<String, Vec<String>>, body: &[u8]) -> Bytes {
    #[derive(serde::Serialize)]
    struct MarshalReq {
        header: BTreeMap<String, Vec<String>>,
        body: MarshalBody,
    }
    #[derive(serde::Serialize)]
    struct MarshalBody {
        raw: String,
    }
    let req = MarshalReq {
        header,
        body: MarshalBody {
            raw: base64::engine::general_purpose::STANDARD.encode(body),
        },
    };
    // Serializing strings and maps of strings cannot fail.
    Bytes::from(serde_json::to_vec(&req).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marshalled_request_matches_go() {
        let header = [("Content-Type".to_owned(), vec!["text/plain".to_owned()])].into();
        let got = marshal(header, b"hi");
        assert_eq!(
            &got[..],
            br#"{"header":{"Content-Type":["text/plain"]},"body":{"raw":"aGk="}}"#
        );
    }
}
