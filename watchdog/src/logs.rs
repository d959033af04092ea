//! Function output that belongs in the container log (stderr in every mode, stdout too in http
//! mode), forwarded line by line as `prefix_logs` and `log_buffer_size` say.
//!
//! `prefix_logs=true` (the default) logs each line through `tracing` as `stderr: <line>`, so it
//! gets a timestamp like of-watchdog's `log.Printf`. `prefix_logs=false` writes the bare line to
//! the watchdog's own stdout/stderr, so structured (JSON) function logs pass through untouched.
//! Lines longer than `log_buffer_size` are split; of-watchdog's scanner instead stops reading,
//! which leaves the child blocked on a full pipe.

use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

use crate::config::{Config, LogLines};

/// Which of the child's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// Where and how one child stream is logged.
#[derive(Debug, Clone, Copy)]
pub struct LogSink {
    pub stream: Stream,
    pub prefix: bool,
    pub lines: LogLines,
    /// http mode: the pool worker the line came from.
    pub worker: Option<usize>,
}

impl LogSink {
    pub fn new(stream: Stream, config: &Config) -> Self {
        Self {
            stream,
            prefix: config.prefix_logs,
            lines: config.log_lines,
            worker: None,
        }
    }

    /// Copies `reader` to the log until end of file.
    pub async fn forward<R: AsyncRead + Unpin>(self, reader: R) {
        let result = match self.lines {
            LogLines::Max(max) => self.forward_lines(reader, max).await,
            LogLines::Unbuffered => self.forward_chunks(reader).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, stream = self.stream.name(), "cannot read function output");
        }
    }

    async fn forward_lines<R: AsyncRead + Unpin>(
        &self,
        reader: R,
        max: usize,
    ) -> std::io::Result<()> {
        let mut reader = BufReader::with_capacity(max.clamp(1024, 64 * 1024), reader);
        let mut line = Vec::new();
        loop {
            let buf = reader.fill_buf().await?;
            if buf.is_empty() {
                if !line.is_empty() {
                    self.emit(&line);
                }
                return Ok(());
            }
            let window = &buf[..buf.len().min(max - line.len())];
            match window.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    line.extend_from_slice(&window[..end]);
                    reader.consume(end + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.emit(&line);
                    line.clear();
                }
                None => {
                    let taken = window.len();
                    line.extend_from_slice(window);
                    reader.consume(taken);
                    if line.len() >= max {
                        self.emit(&line);
                        line.clear();
                    }
                }
            }
        }
    }

    async fn forward_chunks<R: AsyncRead + Unpin>(&self, mut reader: R) -> std::io::Result<()> {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            let chunk = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]);
            self.emit(chunk);
        }
    }

    fn emit(&self, line: &[u8]) {
        if self.prefix {
            let text = String::from_utf8_lossy(line);
            let stream = self.stream.name();
            match self.worker {
                Some(worker) => tracing::info!(worker, "{stream}: {text}"),
                None => tracing::info!("{stream}: {text}"),
            }
            return;
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        // One write per line so lines from concurrent children do not interleave mid-line.
        let _ = match self.stream {
            Stream::Stdout => std::io::stdout().lock().write_all(&bytes),
            Stream::Stderr => std::io::stderr().lock().write_all(&bytes),
        };
    }
}
