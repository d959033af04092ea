//! A real `nats-server -js` on a free loopback port with its own store, removed on drop.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::poll;
use crate::process::{find_binary, Daemon};

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A `nats-server` with JetStream, listening on 127.0.0.1 only.
///
/// The port is chosen by the server (`-p -1`) and read back from its ports file, so parallel
/// tests never race for a port. The store lives in a temporary directory: [`NatsServer::stop`]
/// and [`NatsServer::restart`] keep it (a test can take NATS away and bring it back with its
/// streams), dropping the guard kills the server and removes it.
pub struct NatsServer {
    daemon: Option<Daemon>,
    port: u16,
    binary: PathBuf,
    // Declared last so it is removed after `Drop` has killed the server.
    dir: TempDir,
}

impl NatsServer {
    /// Starts a server and waits until it accepts clients.
    ///
    /// # Panics
    /// When `nats-server` is not installed or does not come up; the message carries its log.
    pub async fn start() -> NatsServer {
        let binary = find_binary("nats-server", "nats-server");
        let dir = tempfile::Builder::new()
            .prefix("e2e-nats-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let mut server = NatsServer {
            daemon: None,
            port: 0,
            binary,
            dir,
        };
        server.launch("-1").await;
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (`-sd`), kept across stop and restart.
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn is_running(&self) -> bool {
        self.daemon.is_some()
    }

    /// Stops the server gracefully (SIGTERM, so JetStream flushes), keeping the store and port.
    pub async fn stop(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.stop().await;
        }
    }

    /// Starts the server again on the same port with the same store.
    ///
    /// # Panics
    /// When it is already running, or when it cannot come back (for example because something
    /// else took the port meanwhile); the message carries its log.
    pub async fn restart(&mut self) {
        assert!(
            self.daemon.is_none(),
            "restart: nats-server is still running; call stop() first"
        );
        let port = self.port.to_string();
        self.launch(&port).await;
    }

    async fn launch(&mut self, port: &str) {
        let ports_dir = self.dir.path().join("ports");
        std::fs::create_dir_all(&ports_dir)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", ports_dir.display()));
        let store = self.store_dir();
        let daemon = Daemon::spawn(
            &self.binary,
            [
                "-js".as_ref(),
                "-a".as_ref(),
                "127.0.0.1".as_ref(),
                "-p".as_ref(),
                port.as_ref(),
                "-sd".as_ref(),
                store.as_os_str(),
                "--ports_file_dir".as_ref(),
                ports_dir.as_os_str(),
            ],
            &self.dir.path().join("nats-server.log"),
        );
        let mut daemon = daemon;
        // The server writes `nats-server_<pid>.ports` once it accepts clients (after JetStream
        // is up) and removes it on exit, so the file is both the readiness signal and the port.
        let ports_file = ports_dir.join(format!("nats-server_{}.ports", daemon.pid()));
        let waited = poll::until(START_TIMEOUT, Duration::from_millis(20), || {
            let state = match daemon.exited() {
                Some(status) => Err(format!("nats-server exited with {status}")),
                None => read_ports_file(&ports_file),
            };
            async move { state }
        })
        .await;
        match waited {
            Ok(port) => {
                self.port = port;
                self.daemon = Some(daemon);
            }
            Err(timeout) => panic!(
                "nats-server did not start: {timeout}\n{}",
                daemon.log_tail()
            ),
        }
    }
}

/// The client port from a ports file, `{"nats":["nats://127.0.0.1:4222"]}`.
fn read_ports_file(path: &Path) -> Result<u16, String> {
    let text = std::fs::read_to_string(path).map_err(|_| "no ports file yet".to_owned())?;
    let json: serde_json::Value = serde_json::from_str(&text)
        // Half-written: the next poll reads it whole.
        .map_err(|err| format!("ports file not complete yet ({err}): {text}"))?;
    json["nats"][0]
        .as_str()
        .and_then(|url| url.rsplit(':').next())
        .and_then(|port| port.parse().ok())
        .ok_or_else(|| format!("no client port in ports file {}: {text}", path.display()))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        // Kill before `dir` (the store) is removed, so the server cannot write into it again.
        drop(self.daemon.take());
    }
}
