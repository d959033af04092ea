//! The stack the browser drives: provider-swarm in-process on the real engine (containers
//! backend), the gateway in-process in front of it, and headless Chromium through chromedriver.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use e2e::docker::TestResources;
use faas_provider::config::env_from;
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::sync::oneshot;

/// Bound for the engine (replicas starting or stopping) and for the page reacting.
pub const CONVERGE: Duration = Duration::from_secs(90);
pub const POLL: Duration = Duration::from_millis(200);
pub const USER: &str = "admin";
pub const PASSWORD: &str = "ui-s3cret";

/// Answers `hello <body>` for every call.
const HANDLER: &str = "#!/bin/sh\nprintf 'hello %s' \"$(cat)\"\n";

/// Provider and gateway, stopped on drop; Docker objects removed by `resources`.
pub struct Stack {
    pub gateway: String,
    /// A second gateway over the same provider with `basic_auth=true`.
    pub gateway_with_auth: String,
    pub resources: Arc<TestResources>,
    pub image: String,
    _secrets: tempfile::TempDir,
    _data_dir: tempfile::TempDir,
    _stop: Vec<oneshot::Sender<()>>,
}

pub async fn spawn_stack() -> Stack {
    faas_provider::telemetry::init(false);
    let resources = Arc::new(TestResources::new().await);
    let image = e2e::images::function_context("/bin/sh /handler.sh")
        .await
        .file("/handler.sh", HANDLER, 0o755)
        .build(&resources, "ui-fn")
        .await;
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let network = resources.name("fn");
    let data = data_dir.path().to_string_lossy().into_owned();
    let env: HashMap<String, String> = [
        ("port", "0"),
        ("backend", "containers"),
        ("function_network", network.as_str()),
        ("data_dir", data.as_str()),
        ("ready_timeout", "60"),
        ("drain_delay", "1"),
        ("stop_grace", "5"),
        ("write_timeout", "20"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = provider_swarm::Config::from_env(Some(env)).expect("a valid provider config");
    let provider = provider_swarm::DockerProvider::start(&config)
        .await
        .expect("the provider starts against the engine");
    let provider =
        provider_swarm::Application::build(config, Arc::new(provider)).expect("the provider binds");
    let provider_url = format!("http://127.0.0.1:{}/", provider.port());
    let mut stop = Vec::new();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(provider.run_until_stopped(async {
        let _ = rx.await;
    }));
    stop.push(tx);

    let secrets = tempfile::tempdir().expect("temp dir");
    std::fs::write(secrets.path().join("basic-auth-user"), USER).expect("write user");
    std::fs::write(secrets.path().join("basic-auth-password"), PASSWORD).expect("write password");
    let mut gateway = |basic_auth: bool| {
        let env = [
            ("port", "0".to_owned()),
            ("metrics_port", "0".to_owned()),
            ("functions_provider_url", provider_url.clone()),
            ("faas_prometheus_host", "127.0.0.1".to_owned()),
            ("faas_prometheus_port", free_port().to_string()),
            ("basic_auth", basic_auth.to_string()),
            ("secret_mount_path", secrets.path().display().to_string()),
            ("upstream_timeout", "30".to_owned()),
        ];
        let config = gateway::Config::from_env(env_from(env.iter().map(|(k, v)| (*k, v.as_str()))))
            .expect("a valid gateway config");
        let (tx, rx) = oneshot::channel::<()>();
        stop.push(tx);
        async move {
            let backends = gateway::Backends::http(&config).expect("backends");
            let app = gateway::Application::build(config, backends)
                .await
                .expect("the gateway binds");
            let address = format!("http://127.0.0.1:{}", app.port());
            tokio::spawn(app.run_until_stopped(async {
                let _ = rx.await;
            }));
            address
        }
    };
    let open = gateway(false);
    let with_auth = gateway(true);
    Stack {
        gateway: open.await,
        gateway_with_auth: with_auth.await,
        resources,
        image,
        _secrets: secrets,
        _data_dir: data_dir,
        _stop: stop,
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// chromedriver, killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PACKAGES: &str = "apt-get install -y chromium chromium-driver";

/// Starts chromedriver and a headless Chromium session of `width`×`height`.
pub async fn browser(width: u32, height: u32) -> (Driver, Client) {
    for binary in ["chromium", "chromedriver"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(binary).is_file()))
            .unwrap_or(false);
        assert!(found, "{binary} is not installed: {PACKAGES}");
    }
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromedriver ({PACKAGES}): {e}"));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    e2e::poll::until(
        Duration::from_secs(20),
        Duration::from_millis(100),
        || async {
            http.get(format!("{}/status", driver.url))
                .send()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        },
    )
    .await
    .expect("chromedriver answers");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            format!("--window-size={width},{height}"),
        ]}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    (driver, client)
}

/// The text of the first element matching `css`, or None.
pub async fn text(client: &Client, css: &str) -> Option<String> {
    client
        .execute(
            "const e = document.querySelector(arguments[0]); return e && !e.hidden ? e.textContent : null;",
            vec![serde_json::json!(css)],
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// Polls until the element `css` shows text containing `want`; returns that text.
pub async fn wait_text(client: &Client, css: &str, want: &str) -> String {
    e2e::poll::until(CONVERGE, POLL, || async {
        match text(client, css).await {
            Some(t) if t.contains(want) => Ok(t),
            other => Err(format!("{css}: {other:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{css} never showed {want:?}: {e}"))
}

/// Polls until no element matches `css`.
pub async fn wait_gone(client: &Client, css: &str) {
    e2e::poll::until(CONVERGE, POLL, || async {
        match text(client, css).await {
            None => Ok(()),
            Some(t) => Err(format!("{css} still shows {t:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{css} never went away: {e}"));
}

pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("find {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Replaces the value of the input `css` with `value`.
pub async fn fill(client: &Client, css: &str, value: &str) {
    let el = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("find {css}: {e}"));
    el.clear()
        .await
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    el.send_keys(value)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// Where screenshots go: `tests/output/ui/` at the workspace root (gitignored).
pub fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/output/ui");
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

pub async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let path = output_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
