//! of-watchdog `serializing` mode: fork per call, the whole body on stdin, the whole of stdout
//! as the answer, stderr to the log, `Content-Type` from `content_type`.
//!
//! Where of-watchdog answers 200 with an empty body after a failed or killed process (its
//! `serializeFunction` drops the wait error), this answers 500 with `exit status N` and 504
//! `Killed process.` past the call deadline, like http mode.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::call::{text, Call};
use crate::cgi::{self, Flavor};
use crate::config::Config;
use crate::logs::{LogSink, Stream};
use crate::process::{self, Buffered, Exit, Fprocess, StderrTo};
use crate::reaper::Reaper;

pub struct Serializing {
    fprocess: Fprocess,
    content_type: Option<String>,
    stderr: LogSink,
    reaper: Arc<Reaper>,
}

impl Serializing {
    pub fn new(config: &Config, fprocess: Fprocess, reaper: Arc<Reaper>) -> Self {
        Self {
            fprocess,
            content_type: config.content_type.clone(),
            stderr: LogSink::new(Stream::Stderr, config),
            reaper,
        }
    }

    pub async fn invoke(&self, call: Call) -> HttpResponse {
        let mut cmd = self.fprocess.command();
        cmd.envs(cgi::environment(&call.parts(), Flavor::OfWatchdog));
        let body = match call.body.collect().await {
            Ok(body) => body,
            Err(e) => return e.to_response(),
        };
        let stderr = StderrTo::Log(self.stderr);
        let result =
            process::run_detached(cmd, body, stderr, call.deadline, self.reaper.clone()).await;
        match result {
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_body()),
            Ok(Buffered { exit, output }) => match exit {
                Exit::Status(status) if status.success() => {
                    let mut response = HttpResponse::Ok();
                    if let Some(content_type) = &self.content_type {
                        response.content_type(content_type.as_str());
                    }
                    response.body(output)
                }
                Exit::Status(status) => {
                    tracing::warn!(status = %process::describe_status(&status), "function failed");
                    text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("{}\n", process::describe_status(&status)),
                    )
                }
                Exit::TimedOut => {
                    tracing::warn!(fprocess = self.fprocess.program(), "Killed process.");
                    text(StatusCode::GATEWAY_TIMEOUT, "Killed process.\n")
                }
                Exit::WaitFailed(error) => {
                    tracing::error!(%error, "cannot wait for the function");
                    text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n"))
                }
            },
        }
    }
}
