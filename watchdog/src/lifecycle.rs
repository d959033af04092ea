//! Readiness as the Go watchdogs signal it: the "accepting connections" flag and the lock file
//! (`/tmp/.lock`) that Swarm's `HEALTHCHECK [ -e /tmp/.lock ]` and `-run-healthcheck` look for.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
#[error("cannot write the lock file {path:?}; to disable it set suppress_lock=true")]
pub struct LockError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

#[derive(Debug)]
pub struct Lifecycle {
    accepting: AtomicBool,
    /// `None` with `suppress_lock=true`.
    lock: Option<PathBuf>,
}

impl Lifecycle {
    pub fn new(lock: Option<PathBuf>) -> Self {
        Self {
            accepting: AtomicBool::new(false),
            lock,
        }
    }

    /// Creates the lock file's directory, so a missing one fails start-up rather than readiness.
    pub fn prepare(&self) -> Result<(), LockError> {
        let Some(path) = &self.lock else {
            return Ok(());
        };
        match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) => std::fs::create_dir_all(dir).map_err(|source| LockError {
                path: path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }

    /// Writes the (empty, mode 0660) lock file and starts accepting.
    pub fn mark_ready(&self) -> Result<(), LockError> {
        if let Some(path) = &self.lock {
            write_lock(path).map_err(|source| LockError {
                path: path.clone(),
                source,
            })?;
            tracing::info!(path = %path.display(), "wrote the lock file");
        } else {
            tracing::warn!("suppress_lock is set: no lock file for automated health checks");
        }
        self.accepting.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Stops accepting and removes the lock file (the first step of a graceful shutdown).
    pub fn mark_unhealthy(&self) {
        self.accepting.store(false, Ordering::SeqCst);
        if let Some(path) = &self.lock {
            match std::fs::remove_file(path) {
                Ok(()) => tracing::info!(path = %path.display(), "removed the lock file"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot remove the lock file")
                }
            }
        }
    }

    /// Accepting, and the lock file (when there is one) still exists. With `suppress_lock=true`
    /// the Go watchdogs always answer 503 here (they look for a file they never wrote); this
    /// watchdog answers from the accepting flag alone.
    pub fn healthy(&self) -> bool {
        self.accepting.load(Ordering::SeqCst) && self.lock.as_deref().is_none_or(Path::exists)
    }
}

fn write_lock(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o660)
        .open(path)
        .map(drop)
}

/// `fwatchdog -run-healthcheck`: whether the lock file exists.
pub fn lock_present(path: &Path) -> bool {
    path.exists()
}
