//! Test helpers: the watchdog in-process on port 0 (`spawn_app`), the real `fwatchdog` binary
//! as a subprocess (`Binary`), function scripts, a Python upstream, and a bounded poll.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use faas_provider::config::env_from;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use watchdog::pool::Pool;
use watchdog::startup::RunError;
use watchdog::{Application, Config};

pub struct TestApp {
    pub port: u16,
    pub metrics_port: u16,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    pub lock_path: PathBuf,
    pub pool: Option<Arc<Pool>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<actix_rt::task::JoinHandle<Result<(), RunError>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        self.client
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Resolves the shutdown future and waits for `run_until_stopped` to return.
    pub async fn stop(mut self) -> Result<(), RunError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let task = self.task.take().expect("stopped twice");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the watchdog did not stop within 30s")
            .expect("the watchdog's task panicked")
    }
}

/// Starts the watchdog in-process: ports 0, its own lock file, no health-check wait on
/// shutdown; `env` adds to or overrides those. Returns once `/_/health` answers 200.
pub async fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_unready(env).await;
    let health = app.url("/_/health");
    poll_until(Duration::from_secs(20), || async {
        match app.client.get(&health).send().await {
            Ok(r) if r.status() == 200 => Ok(()),
            Ok(r) => Err(format!("status {}", r.status())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .expect("the watchdog did not become healthy");
    app
}

/// As [`spawn_app`], without waiting for the watchdog to become healthy.
pub async fn spawn_app_unready(env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("lock").join(".lock");
    let lock = lock_path.to_str().unwrap().to_owned();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("port", "0"),
        ("metrics_port", "0"),
        ("lock_path", &lock),
        ("healthcheck_interval", "0"),
    ];
    pairs.extend_from_slice(env);
    let config = Config::from_env(env_from(pairs)).expect("bad test config");
    let app = Application::build(config)
        .await
        .expect("the watchdog did not start");
    let (tx, rx) = oneshot::channel::<()>();
    let (port, metrics_port, pool) = (app.port(), app.metrics_port(), app.pool());
    let task = actix_rt::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        port,
        metrics_port,
        client: reqwest::Client::new(),
        _dir: dir,
        lock_path,
        pool,
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// Polls `check` every 20 ms until it succeeds or `timeout` passes, then reports the last
/// state it saw.
pub async fn poll_until<T, F, Fut>(timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return Ok(v),
            Err(last) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("gave up after {timeout:?}; last state: {last}"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// An executable `/bin/sh` script in `dir`.
pub fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A Python HTTP upstream that listens on `$PORT` and answers with its pid, port, request line,
/// `Host` and body. `/sleep` waits a second first (a slow function, not test synchronisation).
pub fn python_upstream(dir: &Path) -> String {
    let path = dir.join("upstream.py");
    std::fs::write(
        &path,
        r#"
import http.server, os, time
PORT = int(os.environ["PORT"])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/sleep"):
            time.sleep(1)
        if self.path.startswith("/ready"):
            out = b"upstream ready"
            code = 202
        else:
            out = ("pid=%d port=%d %s %s host=%s body=" % (os.getpid(), PORT, self.command,
                   self.path, self.headers.get("Host"))).encode() + body
            code = 200
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Upstream", "python")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = reply
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
"#,
    )
    .unwrap();
    format!("python3 -u {}", path.display())
}

/// The first of `n` consecutive free ports (checked by binding them), from a range below the
/// kernel's ephemeral ports so parallel tests do not collide with port-0 listeners.
pub fn free_ports(n: u16) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() % 500) as u16 * 20;
    for _ in 0..500 {
        let offset = NEXT.fetch_add(n, Ordering::SeqCst);
        let base = 20_000 + (seed + offset) % 10_000;
        let all_free =
            (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

/// Sends `request` as raw bytes (paths reqwest would normalise) and returns the whole answer.
pub async fn raw_http(port: u16, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `pid` still exists (a zombie counts as existing: nobody reaped it).
pub fn process_exists(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ..."
    let state = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.trim().to_owned())?;
    Some(state.chars().next().unwrap_or('?').to_string())
}

/// The real `fwatchdog` binary, started with `env` (and ports 0, its own lock file).
pub struct Binary {
    pub child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
    pub lock_path: PathBuf,
}

impl Binary {
    pub fn start(env: &[(&str, &str)]) -> Binary {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join(".lock");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fwatchdog"));
        cmd.env("port", "0")
            .env("metrics_port", "0")
            .env("lock_path", &lock_path)
            .env("healthcheck_interval", "0")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        // The first "listening port=N" line names the function port.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(port) = line
                        .split_once(" listening port=")
                        .and_then(|(_, p)| p.trim().parse::<u16>().ok())
                    {
                        let _ = tx.send(port);
                        sent = true;
                    }
                }
                eprintln!("fwatchdog: {line}");
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("fwatchdog did not log its port within 20s");
        Binary {
            child,
            port,
            _dir: dir,
            lock_path,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A line of `/proc/<pid>/status`, in KiB (`VmHWM`, `VmRSS`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Waits (bounded) for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let child = &mut self.child;
        poll_until(timeout, || {
            let status = child.try_wait();
            async move {
                match status {
                    Ok(Some(status)) => Ok(status),
                    Ok(None) => Err("still running".to_owned()),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
        .unwrap()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request body the test feeds by hand: the call stays in flight until it is closed.
pub fn open_body() -> (
    tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    reqwest::Body,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let stream = tokio_stream_from(rx);
    (tx, reqwest::Body::wrap_stream(stream))
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
