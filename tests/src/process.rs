//! Child processes the harness runs (nats-server, prometheus, alertmanager): lookup, logs, stop.

use std::ffi::OsStr;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::poll;

/// How long a process gets to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// Finds `name` on `PATH` or in the sbin directories a non-root `PATH` lacks (Debian puts
/// `nats-server` in `/usr/sbin`).
///
/// # Panics
/// When the binary is nowhere, naming the Debian package that provides it.
pub(crate) fn find_binary(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed (not on PATH nor in /usr/sbin): \
                 run `apt-get install {package}` (.ci/run does)"
            )
        })
}

/// A loopback port that was free a moment ago. Racy by nature: callers that cannot learn the
/// port from the process itself retry on "address already in use".
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|err| panic!("cannot bind a loopback port: {err}"))
}

/// A running child process whose stdout and stderr go to a log file; killed on drop.
pub(crate) struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `program args...`, appending its output to `log`.
    pub(crate) fn spawn<I, S>(program: &Path, args: I, log: &Path) -> Daemon
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let name = program.file_name().map_or_else(
            || program.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let open = || {
            File::options()
                .create(true)
                .append(true)
                .open(log)
                .unwrap_or_else(|err| panic!("cannot open log file {}: {err}", log.display()))
        };
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
        Daemon {
            name,
            child,
            log: log.to_owned(),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has already exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The end of the process's log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!(
            "--- last lines of {} ({}) ---\n{tail}",
            self.name,
            self.log.display()
        )
    }

    /// SIGTERM, then SIGKILL if the process has not exited within the grace period, so that a
    /// server gets to flush its store (what an operator's `systemctl stop` does).
    pub(crate) async fn stop(mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        if self.exited().is_some() || kill(pid, Signal::SIGTERM).is_err() {
            return;
        }
        let child = &mut self.child;
        // A timeout needs no handling: drop kills and reaps what SIGTERM did not stop.
        let _ = poll::until(GRACE, Duration::from_millis(20), || {
            let status = child.try_wait();
            async move {
                match status {
                    Ok(Some(status)) => Ok(status),
                    Ok(None) => Err("still running after SIGTERM".to_owned()),
                    Err(err) => Err(format!("cannot wait: {err}")),
                }
            }
        })
        .await;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited().is_none() {
            // SIGKILL then wait: the reap is immediate, so this never blocks for long.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(
        expected = "`no-such-binary-e2e` is not installed (not on PATH nor in /usr/sbin): run `apt-get install no-such-package`"
    )]
    fn a_missing_binary_names_the_package_to_install() {
        find_binary("no-such-binary-e2e", "no-such-package");
    }
}
