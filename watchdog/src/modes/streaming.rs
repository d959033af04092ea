//! of-watchdog `streaming` mode: fork per call, the request body piped to stdin and stdout piped
//! to the caller as they flow, in constant memory; stderr to the log.
//!
//! Memory stays flat because both directions are pulled, not pushed: the body is read from the
//! socket only as fast as the child drains its stdin (actix pauses reading a full payload
//! buffer), and stdout is read only as fast as the caller accepts the response.
//!
//! The status waits for the first byte of output: a child that fails (or cannot start) before
//! writing anything gets 500 with `exit status N`, and one killed at the call deadline before
//! writing gets 504; of-watchdog always answers 200 there. Once output has started the status
//! is sent, so a deadline kill mid-stream aborts the response (the caller sees a truncated,
//! unterminated body rather than a clean end); a non-zero exit after output is only logged, as
//! in of-watchdog.

use std::io;
use std::process::Stdio;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures::{stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::oneshot;
use tokio_util::io::ReaderStream;

use crate::call::{text, Call, RequestBody};
use crate::cgi::{self, Flavor};
use crate::config::Config;
use crate::logs::{LogSink, Stream};
use crate::process::{self, Exit, Fprocess, GroupChild};
use crate::reaper::Reaper;

/// Bytes read from stdout per response chunk.
const CHUNK: usize = 64 * 1024;

pub struct Streaming {
    fprocess: Fprocess,
    content_type: Option<String>,
    stderr: LogSink,
    reaper: Arc<Reaper>,
}

impl Streaming {
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
        cmd.envs(cgi::environment(&call.parts(), Flavor::OfWatchdog))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match GroupChild::spawn(cmd, &self.reaper) {
            Ok(child) => child,
            Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_body()),
        };
        let (stdin, stdout, stderr) = child.take_stdio();
        if let Some(stderr) = stderr {
            tokio::spawn(self.stderr.forward(stderr));
        }
        if let Some(stdin) = stdin {
            // The payload is tied to this worker thread, so the pump is a local task.
            actix_web::rt::spawn(pump(call.body, stdin));
        }
        let (exit_tx, exit_rx) = oneshot::channel();
        let deadline = call.deadline;
        tokio::spawn(async move {
            let exit = child.wait_until(deadline).await;
            let _ = exit_tx.send(exit);
        });
        let Some(stdout) = stdout else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no stdout from the function\n",
            );
        };

        let mut out = ReaderStream::with_capacity(stdout, CHUNK);
        match out.next().await {
            Some(Ok(first)) => {
                let rest = rest_of_output(out, exit_rx);
                let body = stream::once(async move { Ok::<_, io::Error>(first) }).chain(rest);
                self.ok().streaming(body)
            }
            Some(Err(error)) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the function's output: {error}\n"),
            ),
            None => match exit_rx.await {
                Ok(Exit::Status(status)) if status.success() => self.ok().finish(),
                Ok(Exit::Status(status)) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("{}\n", process::describe_status(&status)),
                ),
                Ok(Exit::TimedOut) => {
                    tracing::warn!(fprocess = self.fprocess.program(), "Killed process.");
                    text(StatusCode::GATEWAY_TIMEOUT, "Killed process.\n")
                }
                Ok(Exit::WaitFailed(error)) => {
                    text(StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n"))
                }
                Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the function vanished\n"),
            },
        }
    }

    fn ok(&self) -> actix_web::HttpResponseBuilder {
        let mut response = HttpResponse::Ok();
        if let Some(content_type) = &self.content_type {
            response.content_type(content_type.as_str());
        }
        response
    }
}

/// Copies the request body into the child's stdin, one chunk at a time, then closes it.
async fn pump(mut body: RequestBody, mut stdin: ChildStdin) {
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => {
                if stdin.write_all(&bytes).await.is_err() {
                    // The child closed its stdin (or exited): the rest is not wanted.
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "request body cut short; closing the function's stdin");
                return;
            }
        }
    }
}

/// The rest of stdout; at its end, the exit decides between a clean end and an abort.
fn rest_of_output(
    out: ReaderStream<ChildStdout>,
    exit: oneshot::Receiver<Exit>,
) -> impl futures::Stream<Item = io::Result<Bytes>> {
    stream::unfold(Some((out, exit)), |state| async move {
        let (mut out, exit) = state?;
        match out.next().await {
            Some(Ok(chunk)) => Some((Ok(chunk), Some((out, exit)))),
            Some(Err(e)) => Some((Err(e), None)),
            None => match exit.await {
                Ok(Exit::TimedOut) => {
                    tracing::warn!("Killed process: the call deadline passed mid-response");
                    let e = io::Error::new(io::ErrorKind::TimedOut, "killed at the call deadline");
                    Some((Err(e), None))
                }
                Ok(Exit::Status(status)) if !status.success() => {
                    tracing::warn!(status = %process::describe_status(&status), "function failed");
                    None
                }
                _ => None,
            },
        }
    })
}
