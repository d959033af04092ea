//! http mode's pool of pre-started workers: `workers` copies of `fprocess`, worker `i` told its
//! port (`upstream_url`'s port + `i`) through `PORT`, each supervised and restarted with
//! back-off when it dies. No OpenFaaS watchdog has this; with one worker it behaves as
//! of-watchdog's single upstream, except that a dead upstream is restarted instead of taking
//! the watchdog down with it.
//!
//! A worker is ready once its port accepts a TCP connection. Calls go to the ready worker with
//! the fewest calls in flight (ties broken round-robin). The watchdog is ready while at least
//! one worker is. A dead worker's whole process group is killed before it is restarted, so a
//! stray child (a gunicorn worker, say) cannot keep holding the port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Upstream};
use crate::logs::{LogSink, Stream};
use crate::process::{self, Fprocess, GroupChild};
use crate::reaper::Reaper;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A worker that ran this long before dying starts its back-off afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(10);
const PROBE_FIRST: Duration = Duration::from_millis(2);
const PROBE_MAX: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
#[error("cannot resolve the upstream host {host:?} (upstream_url)")]
pub struct ResolveError {
    host: String,
    #[source]
    source: std::io::Error,
}

/// One copy of the upstream.
#[derive(Debug)]
pub struct Worker {
    index: usize,
    addr: SocketAddr,
    /// `http://addr` plus `upstream_url`'s path, to which the request URI is appended.
    base: String,
    ready: AtomicBool,
    busy: AtomicUsize,
    pid: AtomicI32,
    /// Counts starts, so a lease can tell that its worker died and came back.
    generation: AtomicU64,
    exited: Notify,
}

impl Worker {
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The worker's process id while it runs.
    pub fn pid(&self) -> Option<i32> {
        Some(self.pid.load(Ordering::SeqCst)).filter(|p| *p > 0)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

/// A call's claim on a worker; counts towards the worker's calls in flight until dropped.
pub struct Lease {
    worker: Arc<Worker>,
    generation: u64,
}

impl Lease {
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Whether the worker has died since this call picked it, waiting up to `grace` for its
    /// supervisor to notice: a call that lost its connection because the process died can
    /// safely go elsewhere; one whose worker lives on may have been processed.
    pub async fn worker_died(&self, grace: Duration) -> bool {
        let worker = &self.worker;
        let exited = worker.exited.notified();
        tokio::pin!(exited);
        exited.as_mut().enable();
        if worker.generation.load(Ordering::SeqCst) != self.generation || !worker.is_ready() {
            return true;
        }
        tokio::time::timeout(grace, exited).await.is_ok()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.worker.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Pool {
    workers: Vec<Arc<Worker>>,
    next: AtomicUsize,
    became_ready: Notify,
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What every worker of a pool is started from.
struct Spec {
    fprocess: Fprocess,
    stdout: LogSink,
    stderr: LogSink,
    reaper: Arc<Reaper>,
    grace: Duration,
}

impl Pool {
    /// Resolves the upstream's address and starts every worker.
    pub async fn start(
        config: &Config,
        upstream: &Upstream,
        fprocess: Fprocess,
        reaper: Arc<Reaper>,
    ) -> Result<Arc<Self>, ResolveError> {
        let ip = resolve(&upstream.host).await?;
        let workers = (0..config.workers)
            .map(|index| {
                // Config checked that the last port fits in a u16.
                let port = upstream.port.saturating_add(index as u16);
                let addr = SocketAddr::new(ip, port);
                Arc::new(Worker {
                    index,
                    addr,
                    base: format!("http://{addr}{}", upstream.path),
                    ready: AtomicBool::new(false),
                    busy: AtomicUsize::new(0),
                    pid: AtomicI32::new(0),
                    generation: AtomicU64::new(0),
                    exited: Notify::new(),
                })
            })
            .collect();
        let pool = Arc::new(Self {
            workers,
            next: AtomicUsize::new(0),
            became_ready: Notify::new(),
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        });
        let spec = Arc::new(Spec {
            fprocess,
            stdout: LogSink::new(Stream::Stdout, config),
            stderr: LogSink::new(Stream::Stderr, config),
            reaper,
            grace: config.write_timeout,
        });
        let tasks = pool
            .workers
            .iter()
            .map(|w| tokio::spawn(supervise(pool.clone(), w.clone(), spec.clone())))
            .collect();
        *pool.tasks.lock().unwrap_or_else(PoisonError::into_inner) = tasks;
        Ok(pool)
    }

    pub fn workers(&self) -> &[Arc<Worker>] {
        &self.workers
    }

    pub fn any_ready(&self) -> bool {
        self.workers.iter().any(|w| w.is_ready())
    }

    /// The ready worker with the fewest calls in flight, skipping `exclude` (indexes already
    /// tried by this call).
    pub fn pick(&self, exclude: &[usize]) -> Option<Lease> {
        let n = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let worker = (0..n)
            .map(|i| &self.workers[(start + i) % n])
            .filter(|w| w.is_ready() && !exclude.contains(&w.index))
            .min_by_key(|w| w.busy.load(Ordering::SeqCst))?;
        worker.busy.fetch_add(1, Ordering::SeqCst);
        Some(Lease {
            worker: worker.clone(),
            generation: worker.generation.load(Ordering::SeqCst),
        })
    }

    /// Waits until some worker is ready, or `deadline`; true when one is.
    pub async fn wait_ready(&self, deadline: Option<Instant>) -> bool {
        loop {
            let notified = self.became_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.any_ready() {
                return true;
            }
            match deadline {
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        return self.any_ready();
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Stops every worker: SIGTERM to its group, SIGKILL if it outlives the grace period.
    pub async fn stop(&self) {
        self.stop.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }
}

async fn resolve(host: &str) -> Result<IpAddr, ResolveError> {
    if host == "localhost" {
        // Also keeps a static binary in a scratch image away from NSS.
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse() {
        return Ok(ip);
    }
    let error = |source| ResolveError {
        host: host.to_owned(),
        source,
    };
    tokio::net::lookup_host((host, 0))
        .await
        .map_err(error)?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| error(std::io::Error::other("no address")))
}

/// Runs one worker for the pool's lifetime, restarting it with back-off when it dies.
async fn supervise(pool: Arc<Pool>, worker: Arc<Worker>, spec: Arc<Spec>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let mut cmd = spec.fprocess.command();
        cmd.env("PORT", worker.addr.port().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match GroupChild::spawn(cmd, &spec.reaper) {
            Ok(mut child) => {
                worker.generation.fetch_add(1, Ordering::SeqCst);
                worker.pid.store(child.pid(), Ordering::SeqCst);
                tracing::info!(
                    worker = worker.index,
                    pid = child.pid(),
                    port = worker.addr.port(),
                    "started worker"
                );
                let (_, stdout, stderr) = child.take_stdio();
                let sink = |s: LogSink| LogSink {
                    worker: Some(worker.index),
                    ..s
                };
                if let Some(out) = stdout {
                    tokio::spawn(sink(spec.stdout).forward(out));
                }
                if let Some(err) = stderr {
                    tokio::spawn(sink(spec.stderr).forward(err));
                }
                tokio::select! {
                    status = serve(&pool, &worker, &mut child) => {
                        worker.ready.store(false, Ordering::SeqCst);
                        worker.pid.store(0, Ordering::SeqCst);
                        worker.exited.notify_waiters();
                        child.kill_leftovers();
                        let status = match status {
                            Ok(s) => process::describe_status(&s),
                            Err(e) => e.to_string(),
                        };
                        tracing::warn!(worker = worker.index, %status, ?backoff,
                                       "worker exited; restarting");
                    }
                    () = pool.stop.cancelled() => {
                        worker.ready.store(false, Ordering::SeqCst);
                        stop_worker(&worker, &mut child, spec.grace).await;
                        return;
                    }
                }
            }
            Err(error) => {
                tracing::error!(worker = worker.index, error = %error, cause = %error.source,
                                ?backoff, "cannot start worker; retrying");
            }
        }
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = pool.stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Waits for the worker to accept connections (marking it ready), then for it to exit.
async fn serve(
    pool: &Pool,
    worker: &Worker,
    child: &mut GroupChild,
) -> std::io::Result<std::process::ExitStatus> {
    let died_early = tokio::select! {
        status = child.wait() => Some(status),
        () = probe(worker.addr) => None,
    };
    if let Some(status) = died_early {
        return status;
    }
    worker.ready.store(true, Ordering::SeqCst);
    pool.became_ready.notify_waiters();
    tracing::info!(
        worker = worker.index,
        port = worker.addr.port(),
        "worker ready"
    );
    child.wait().await
}

/// Returns once `addr` accepts a TCP connection.
async fn probe(addr: SocketAddr) {
    let mut delay = PROBE_FIRST;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(PROBE_MAX);
    }
}

async fn stop_worker(worker: &Worker, child: &mut GroupChild, grace: Duration) {
    child.signal_group(Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        tracing::warn!(
            worker = worker.index,
            ?grace,
            "worker ignored SIGTERM; killing it"
        );
        child.signal_group(Signal::SIGKILL);
        let _ = child.wait().await;
    }
    child.kill_leftovers();
    worker.pid.store(0, Ordering::SeqCst);
}
