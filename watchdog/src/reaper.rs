//! Reaping what a function leaves behind: the watchdog is a child subreaper, so the orphans of
//! every process group it starts come back to it, and it waits for them by group.
//!
//! tokio reaps each direct child (the group leader). When a leader exits, its children (the
//! function's grandchildren) are re-parented to the nearest subreaper: the watchdog itself
//! (`PR_SET_CHILD_SUBREAPER`, or PID 1 in a container). Nothing else would wait for them, so
//! they would stay zombies. After a leader is reaped, `collect(pgid)` waits for the group's
//! remaining members with `waitpid(-pgid, WNOHANG)`; groups with members still running are kept
//! and retried on every `SIGCHLD`. Waiting by group never takes a child tokio is waiting for:
//! each leader is alone in its group's tokio bookkeeping and is reaped before its group is
//! collected (or, if dropped unreaped, is in tokio's orphan queue, which tolerates `ECHILD`).
//! A pgid cannot be reused while any member, zombie or not, still holds it.
//!
//! Processes that leave their group (`setsid`) and outlive it are out of reach: run such
//! functions under an init (`docker run --init`) if they daemonize.

use std::sync::{Arc, Mutex, PoisonError};

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

#[derive(Debug, Default)]
pub struct Reaper {
    lingering: Mutex<Vec<Pid>>,
}

impl Reaper {
    /// Makes this process a child subreaper (once per process is enough; repeating is harmless).
    pub fn new() -> Arc<Self> {
        if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::warn!(%error, "cannot become a child subreaper; orphaned grandchildren \
                                    will be reaped by init instead");
        }
        Arc::new(Self::default())
    }

    /// Reaps the members of `pgid` that are our children; remembers the group if some still run
    /// and returns true then. Call after the group's leader has been reaped, or when it was
    /// dropped unreaped.
    pub fn collect(&self, pgid: Pid) -> bool {
        if reap_group(pgid) {
            return false;
        }
        self.lock().push(pgid);
        true
    }

    /// Retries the lingering groups on every `SIGCHLD`, until the runtime stops.
    pub async fn run(self: Arc<Self>) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut sigchld = match signal(SignalKind::child()) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGCHLD; orphans will not be reaped");
                return;
            }
        };
        while sigchld.recv().await.is_some() {
            self.lock().retain(|pgid| !reap_group(*pgid));
        }
    }

    /// Groups with members still running (for tests and logs).
    pub fn lingering(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pid>> {
        self.lingering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Waits (without blocking) for every exited member of `pgid`; true when none of our children
/// is left in the group.
fn reap_group(pgid: Pid) -> bool {
    let group = Pid::from_raw(-pgid.as_raw());
    loop {
        match waitpid(group, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return false,
            Ok(_) | Err(Errno::EINTR) => continue,
            // ECHILD: no child of ours in the group; anything else cannot get better by retrying.
            Err(_) => return true,
        }
    }
}
