//! Function processes: the parsed `fprocess`, each child in its own process group so a timeout
//! kills grandchildren too, and exit statuses described in Go's words.
//!
//! `process_group(0)` is std's safe wrapper over `setpgid` (posix_spawn's `SETPGROUP`), so the
//! crate keeps `unsafe_code = "forbid"`. A [`GroupChild`] that is dropped before its leader was
//! reaped kills the whole group, so no code path leaves a function running unowned.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::time::Instant;

use crate::logs::LogSink;
use crate::reaper::Reaper;

/// The function's command: `fprocess` split on spaces and run directly, without a shell, as
/// the Go watchdogs do (`strings.Split(fprocess, " ")`). Empty parts from repeated spaces are
/// dropped rather than passed as empty arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fprocess {
    program: String,
    args: Vec<String>,
}

impl Fprocess {
    /// `None` when the text has no command in it.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ').filter(|p| !p.is_empty()).map(str::to_owned);
        Some(Self {
            program: parts.next()?,
            args: parts.collect(),
        })
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// A command for one run: its own process group, no stdio until the caller says.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start {program:?}")]
pub struct SpawnError {
    pub program: String,
    #[source]
    pub source: io::Error,
}

impl SpawnError {
    /// The message a caller sees: what failed and why.
    pub fn to_body(&self) -> String {
        format!("{self}: {}\n", self.source)
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum Exit {
    Status(ExitStatus),
    /// The deadline passed; the whole group was killed.
    TimedOut,
    /// Waiting failed (should not happen; reported rather than hidden).
    WaitFailed(io::Error),
}

impl Exit {
    pub fn success(&self) -> bool {
        matches!(self, Self::Status(s) if s.success())
    }
}

/// A child leading its own process group.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
    pgid: Pid,
    reaper: Arc<Reaper>,
    reaped: bool,
    /// After the leader was reaped: members of the group still ran (and still hold the pgid).
    leftovers: bool,
}

impl GroupChild {
    /// Spawns `cmd` (built by [`Fprocess::command`]) and drops it, closing the parent's copies
    /// of any pipe ends it held.
    pub fn spawn(mut cmd: Command, reaper: &Arc<Reaper>) -> Result<Self, SpawnError> {
        let program = cmd.as_std().get_program().to_string_lossy().into_owned();
        let child = cmd
            .spawn()
            .map_err(|source| SpawnError { program, source })?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .unwrap_or(0);
        Ok(Self {
            child,
            pgid: Pid::from_raw(pid),
            reaper: Arc::clone(reaper),
            reaped: false,
            leftovers: false,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pgid.as_raw()
    }

    pub fn take_stdio(&mut self) -> (Option<ChildStdin>, Option<ChildStdout>, Option<ChildStderr>) {
        (
            self.child.stdin.take(),
            self.child.stdout.take(),
            self.child.stderr.take(),
        )
    }

    /// Signals every process in the group.
    pub fn signal_group(&self, signal: Signal) {
        if self.reaped || self.pgid.as_raw() <= 0 {
            return;
        }
        // ESRCH: the group is already gone.
        let _ = killpg(self.pgid, signal);
    }

    /// Kills what is left of the group after its leader exited (a worker's stray children).
    /// Only done while members remain: they keep the pgid from being reused.
    pub fn kill_leftovers(&self) {
        if self.reaped && self.leftovers {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
    }

    /// Waits for the leader, then collects what is left of its group.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.reaped = true;
        self.leftovers = self.reaper.collect(self.pgid);
        status
    }

    /// Waits until `deadline`, then kills the group and waits for the leader.
    pub async fn wait_until(&mut self, deadline: Instant) -> Exit {
        match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(status) => {
                self.reaped = true;
                self.leftovers = self.reaper.collect(self.pgid);
                status.map_or_else(Exit::WaitFailed, Exit::Status)
            }
            Err(_) => {
                self.signal_group(Signal::SIGKILL);
                match self.wait().await {
                    Ok(_) => Exit::TimedOut,
                    Err(e) => Exit::WaitFailed(e),
                }
            }
        }
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal_group(Signal::SIGKILL);
            // tokio reaps the leader from its orphan queue; we take the rest.
            let _ = self.reaper.collect(self.pgid);
        }
    }
}

/// An exit status as Go's `exec.ExitError` prints it: `exit status 1`, `signal: killed`.
pub fn describe_status(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let Some(signal) = status.signal() else {
        return "exit status unknown".to_owned();
    };
    let name = match Signal::try_from(signal) {
        Ok(Signal::SIGKILL) => "killed".to_owned(),
        Ok(Signal::SIGTERM) => "terminated".to_owned(),
        Ok(Signal::SIGINT) => "interrupt".to_owned(),
        Ok(Signal::SIGHUP) => "hangup".to_owned(),
        Ok(Signal::SIGPIPE) => "broken pipe".to_owned(),
        Ok(Signal::SIGSEGV) => "segmentation fault".to_owned(),
        Ok(Signal::SIGABRT) => "aborted".to_owned(),
        Ok(Signal::SIGBUS) => "bus error".to_owned(),
        Ok(Signal::SIGFPE) => "floating point exception".to_owned(),
        Ok(Signal::SIGILL) => "illegal instruction".to_owned(),
        Ok(Signal::SIGQUIT) => "quit".to_owned(),
        Ok(other) => other.as_str().to_owned(),
        Err(_) => format!("signal {signal}"),
    };
    let core = if status.core_dumped() {
        " (core dumped)"
    } else {
        ""
    };
    format!("signal: {name}{core}")
}

/// Where a buffered run's stderr goes.
#[derive(Debug, Clone, Copy)]
pub enum StderrTo {
    /// Interleaved with stdout in the output, through one pipe (`combine_output=true`).
    Output,
    Log(LogSink),
}

/// The result of a buffered run.
#[derive(Debug)]
pub struct Buffered {
    pub output: Vec<u8>,
    pub exit: Exit,
}

/// Runs `cmd` to completion in a task of its own, so a caller that goes away does not cut the
/// run short (the deadline still does): see [`run_buffered`].
pub async fn run_detached(
    cmd: Command,
    input: Bytes,
    stderr: StderrTo,
    deadline: Instant,
    reaper: Arc<Reaper>,
) -> Result<Buffered, SpawnError> {
    let run = run_buffered(cmd, input, stderr, deadline, reaper);
    match tokio::spawn(run).await {
        Ok(result) => result,
        Err(join) => Ok(Buffered {
            output: Vec::new(),
            exit: Exit::WaitFailed(io::Error::other(join)),
        }),
    }
}

/// Runs `cmd` to completion: `input` on stdin, all output collected, killed at `deadline`.
/// Input and output are pumped concurrently, so a child that writes before it has read all of
/// its input cannot deadlock against a full pipe.
pub async fn run_buffered(
    mut cmd: Command,
    input: Bytes,
    stderr: StderrTo,
    deadline: Instant,
    reaper: Arc<Reaper>,
) -> Result<Buffered, SpawnError> {
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let spawn_error = |source| SpawnError {
        program: program.clone(),
        source,
    };
    cmd.stdin(Stdio::piped());
    let combined = match stderr {
        StderrTo::Output => {
            let (reader, writer) = io::pipe().map_err(spawn_error)?;
            cmd.stdout(writer.try_clone().map_err(spawn_error)?);
            cmd.stderr(writer);
            Some(reader)
        }
        StderrTo::Log(_) => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            None
        }
    };
    let mut child = GroupChild::spawn(cmd, &reaper)?;
    let (stdin, stdout, child_stderr) = child.take_stdio();
    let output: Box<dyn AsyncRead + Unpin + Send> = match (combined, stdout) {
        (Some(reader), _) => Box::new(
            tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into()).map_err(spawn_error)?,
        ),
        (None, Some(stdout)) => Box::new(stdout),
        (None, None) => Box::new(tokio::io::empty()),
    };

    let run = async {
        let write = async move {
            if let Some(mut stdin) = stdin {
                // A child that exits without reading its input is not an error (EPIPE).
                let _ = stdin.write_all(&input).await;
            }
        };
        let read = async move {
            let mut out = Vec::new();
            let mut output = output;
            let _ = output.read_to_end(&mut out).await;
            out
        };
        let log = async move {
            if let (StderrTo::Log(sink), Some(err)) = (stderr, child_stderr) {
                sink.forward(err).await;
            }
        };
        let ((), out, ()) = tokio::join!(write, read, log);
        out
    };
    let exit;
    let output;
    match tokio::time::timeout_at(deadline, run).await {
        Ok(out) => {
            output = out;
            exit = child.wait_until(deadline).await;
        }
        Err(_) => {
            // Still holding a pipe open (a grandchild, or a slow child): kill the group.
            child.signal_group(Signal::SIGKILL);
            output = Vec::new();
            exit = match child.wait().await {
                Ok(_) => Exit::TimedOut,
                Err(e) => Exit::WaitFailed(e),
            };
        }
    }
    Ok(Buffered { output, exit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fprocess_is_split_on_spaces() {
        type Want<'a> = Option<(&'a str, &'a [&'a str])>;
        let cases: &[(&str, Want<'_>)] = &[
            ("cat", Some(("cat", &[]))),
            ("sh -c env", Some(("sh", &["-c", "env"]))),
            ("python3  index.py ", Some(("python3", &["index.py"]))),
            ("node 'a b'", Some(("node", &["'a", "b'"]))),
            ("", None),
            ("   ", None),
        ];
        for (text, want) in cases {
            let got = Fprocess::parse(text);
            let got = got.as_ref().map(|f| {
                (
                    f.program(),
                    f.args().iter().map(String::as_str).collect::<Vec<_>>(),
                )
            });
            let want = want.map(|(p, a)| (p, a.to_vec()));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn statuses_read_like_go() {
        let cases = [
            (ExitStatus::from_raw(0), "exit status 0"),
            (ExitStatus::from_raw(1 << 8), "exit status 1"),
            (ExitStatus::from_raw(42 << 8), "exit status 42"),
            (ExitStatus::from_raw(9), "signal: killed"),
            (ExitStatus::from_raw(15), "signal: terminated"),
            (
                ExitStatus::from_raw(11 | 0x80),
                "signal: segmentation fault (core dumped)",
            ),
        ];
        for (status, want) in cases {
            assert_eq!(describe_status(&status), want);
        }
    }
}
