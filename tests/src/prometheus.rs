//! Real `prometheus` and `prometheus-alertmanager` processes with configs in a temporary
//! directory, on free loopback ports, ready before `start` returns and killed on drop.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::poll;
use crate::process::{find_binary, free_port, Daemon};

const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Neither binary can report a port it chose itself, so a port is picked and, if something
/// took it before the process bound it, picked again.
const PORT_ATTEMPTS: usize = 3;

/// A Prometheus server: TSDB, config and rules in its own temporary directory.
pub struct Prometheus {
    web: WebDaemon,
}

impl Prometheus {
    /// Writes `config_yaml` (and `rules_yaml`, if any, as `rules.yml` beside it: reference it
    /// as `rule_files: ["rules.yml"]`, Prometheus resolves it relative to the config), starts
    /// Prometheus with the lifecycle API and waits for `/-/ready`.
    ///
    /// # Panics
    /// When `prometheus` is not installed or does not become ready (bad config included); the
    /// message carries its log.
    pub async fn start(config_yaml: &str, rules_yaml: Option<&str>) -> Prometheus {
        let binary = find_binary("prometheus", "prometheus");
        let dir = temp_dir("e2e-prometheus-");
        write(&dir.path().join("prometheus.yml"), config_yaml);
        if let Some(rules) = rules_yaml {
            write(&dir.path().join("rules.yml"), rules);
        }
        let web = WebDaemon::start(binary, dir, |dir, port| {
            vec![
                flag("--config.file=", &dir.join("prometheus.yml")),
                flag("--storage.tsdb.path=", &dir.join("data")),
                format!("--web.listen-address=127.0.0.1:{port}").into(),
                "--web.enable-lifecycle".into(),
                // Alerts that fire before the Alertmanager is discovered are dropped; resend
                // within a second instead of the default minute.
                "--rules.alert.resend-delay=1s".into(),
            ]
        })
        .await;
        Prometheus { web }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.web.url()
    }

    pub fn port(&self) -> u16 {
        self.web.port
    }

    /// The directory holding `prometheus.yml`, `rules.yml` and the TSDB.
    pub fn dir(&self) -> &Path {
        self.web.dir.path()
    }
}

/// An Alertmanager with clustering off, config and storage in its own temporary directory.
pub struct Alertmanager {
    web: WebDaemon,
}

impl Alertmanager {
    /// Writes `config_yaml`, starts `prometheus-alertmanager` and waits for `/-/ready`.
    ///
    /// # Panics
    /// When `prometheus-alertmanager` is not installed or does not become ready (bad config
    /// included); the message carries its log.
    pub async fn start(config_yaml: &str) -> Alertmanager {
        let binary = find_binary("prometheus-alertmanager", "prometheus-alertmanager");
        let dir = temp_dir("e2e-alertmanager-");
        write(&dir.path().join("alertmanager.yml"), config_yaml);
        let web = WebDaemon::start(binary, dir, |dir, port| {
            vec![
                flag("--config.file=", &dir.join("alertmanager.yml")),
                flag("--storage.path=", &dir.join("data")),
                format!("--web.listen-address=127.0.0.1:{port}").into(),
                // An empty address turns gossip off; otherwise every instance wants port 9094.
                "--cluster.listen-address=".into(),
            ]
        })
        .await;
        Alertmanager { web }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.web.url()
    }

    pub fn port(&self) -> u16 {
        self.web.port
    }

    /// `127.0.0.1:<port>`, the form Prometheus's `alerting.alertmanagers` targets take.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.web.port)
    }

    /// The directory holding `alertmanager.yml` and the storage.
    pub fn dir(&self) -> &Path {
        self.web.dir.path()
    }
}

/// A process serving `/-/ready` on a loopback port.
struct WebDaemon {
    port: u16,
    _daemon: Daemon,
    // Declared after the daemon so it is removed once the process is dead.
    dir: TempDir,
}

impl WebDaemon {
    async fn start(
        binary: PathBuf,
        dir: TempDir,
        args: impl Fn(&Path, u16) -> Vec<OsString>,
    ) -> WebDaemon {
        let name = binary
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let log = dir.path().join(format!("{name}.log"));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_else(|err| panic!("cannot build an HTTP client: {err}"));
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut daemon = Daemon::spawn(&binary, args(dir.path(), port), &log);
            let url = format!("http://127.0.0.1:{port}/-/ready");
            let (url, name) = (url.as_str(), name.as_str());
            let ready = poll::until(START_TIMEOUT, Duration::from_millis(50), || {
                let exited = daemon.exited();
                let request = http.get(url).send();
                async move {
                    if let Some(status) = exited {
                        return Err(format!("{name} exited with {status}"));
                    }
                    match request.await {
                        Ok(response) if response.status().is_success() => Ok(()),
                        Ok(response) => Err(format!("GET {url}: {}", response.status())),
                        Err(err) => Err(format!("GET {url}: {err}")),
                    }
                }
            })
            .await;
            match ready {
                Ok(()) => {
                    return WebDaemon {
                        port,
                        _daemon: daemon,
                        dir,
                    }
                }
                Err(_)
                    if daemon.exited().is_some()
                        && daemon.log_tail().contains("address already in use") =>
                {
                    continue
                }
                Err(timeout) => panic!(
                    "{name} did not become ready: {timeout}\n{}",
                    daemon.log_tail()
                ),
            }
        }
        panic!(
            "{name}: every port tried was taken before it could bind ({PORT_ATTEMPTS} attempts)"
        );
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"))
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
}

fn flag(name: &str, path: &Path) -> OsString {
    let mut flag = OsString::from(name);
    flag.push(path);
    flag
}
