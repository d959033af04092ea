//! Test helpers: the provider started in-process on port 0 against the real engine, function
//! images built locally, and an invoker that reaches replicas the way the gateway does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, ListServicesOptions,
};
use e2e::docker::TestResources;
use e2e::images::ImageContext;
use faas_provider::types::{FunctionStatus, ReadyEndpoints};
use provider_swarm::engine::Orchestration;
use provider_swarm::{Application, Config, DockerProvider};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

/// Bound for anything the engine does asynchronously (tasks starting, replicas stopping).
pub const CONVERGE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(100);
/// How often the load client refreshes its endpoint list, as a gateway would.
const REFRESH: Duration = Duration::from_millis(200);

/// The function's handler, forked by the watchdog per call: prints the image's marker,
/// `$VERSION`, and the secret the query string names; logs the call on stderr.
const HANDLER: &str = "#!/bin/sh\necho \"invoked $Http_Query\" >&2\necho \"image=$(cat /image) version=$VERSION\"\n[ -n \"$Http_Query\" ] && cat \"/var/openfaas/secrets/$Http_Query\"\nexit 0\n";
/// What functions run: `fprocess` for the handler above.
pub const FPROCESS: &str = "/bin/sh /handler.sh";
/// The path the tests invoke.
pub const INVOKE: &str = "/";
/// The relay: `GET /cgi-bin/get?<host:port/path>` fetches that URL from inside the network.
const RELAY: &str = "#!/bin/sh\nif out=$(/bin/timeout 10 /bin/wget -q -O - \"http://$QUERY_STRING\" 2>&1); then\n  printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s' \"$out\"\nelse\n  printf 'HTTP/1.0 502 Bad Gateway\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s' \"$out\"\nfi\n";

/// A function image as OpenFaaS templates make it (busybox, the static watchdog running
/// [`FPROCESS`]) whose handler reports `marker`. On SIGTERM the watchdog keeps serving for
/// `healthcheck_interval` so calls in flight finish.
pub async fn function_image(resources: &TestResources, name: &str, marker: &str) -> String {
    e2e::images::function_context(FPROCESS)
        .await
        .file("/handler.sh", HANDLER, 0o755)
        .file("/image", format!("{marker}\n"), 0o644)
        .env("combine_output", "false")
        .env("healthcheck_interval", "1")
        .env("write_timeout", "5")
        .build(resources, name)
        .await
}

async fn relay_image(resources: &TestResources) -> String {
    ImageContext::scratch()
        .with_busybox()
        .file("/www/cgi-bin/get", RELAY, 0o755)
        .cmd(&["/bin/httpd", "-f", "-p", "8080", "-h", "/www"])
        .build(resources, "relay")
        .await
}

/// Calls the provider API and the replicas it lists.
#[derive(Clone)]
pub struct Invoker {
    pub http: reqwest::Client,
    pub base: String,
    /// Swarm: overlay addresses are not reachable from the host, so calls go through a
    /// relay container on the function network, published on loopback.
    relay: Option<String>,
}

impl Invoker {
    pub async fn endpoints(&self, name: &str) -> Result<ReadyEndpoints, String> {
        let res = self
            .http
            .get(format!("{}/system/endpoints/{name}", self.base))
            .send()
            .await
            .map_err(|e| format!("endpoints: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("endpoints: {}", res.status()));
        }
        res.json().await.map_err(|e| format!("endpoints body: {e}"))
    }

    /// GET `http://<address><path>` from where a gateway would be.
    pub async fn invoke(&self, address: &str, path: &str) -> Result<String, String> {
        let url = match &self.relay {
            Some(relay) => format!("{relay}/cgi-bin/get?{address}{path}"),
            None => format!("http://{address}{path}"),
        };
        let res = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(|e| format!("{address}: {e}"))?;
        let status = res.status();
        let body = res.text().await.map_err(|e| format!("{address}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{address}: {status} {body}"))
        }
    }
}

pub struct TestApp {
    pub invoker: Invoker,
    pub resources: Arc<TestResources>,
    pub orchestration: Orchestration,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

/// Starts the provider with `backend` (`swarm` or `containers`) on a network of its own.
pub async fn spawn_app(backend: &str) -> TestApp {
    faas_provider::telemetry::init(false);
    let resources = Arc::new(TestResources::new().await);
    let network = resources.name("fn");
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let data = data_dir.path().to_string_lossy().into_owned();
    let env: HashMap<String, String> = [
        ("port", "0"),
        ("backend", backend),
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
    let config = Config::from_env(Some(env)).expect("a valid config");
    let provider = DockerProvider::start(&config)
        .await
        .expect("the provider starts against the engine");
    let orchestration = provider.orchestration();
    let app = Application::build(config, Arc::new(provider)).expect("the app binds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    let relay = match orchestration {
        Orchestration::Swarm => Some(start_relay(&resources, &network).await),
        Orchestration::Containers => None,
    };
    TestApp {
        invoker: Invoker {
            http: reqwest::Client::new(),
            base,
            relay,
        },
        resources,
        orchestration,

        data_dir,
        shutdown: Some(tx),
    }
}

async fn start_relay(resources: &TestResources, network: &str) -> String {
    let image = relay_image(resources).await;
    let body = ContainerCreateBody {
        image: Some(image),
        exposed_ports: Some(HashMap::from([("8080/tcp".to_owned(), HashMap::new())])),
        host_config: Some(HostConfig {
            network_mode: Some(network.to_owned()),
            port_bindings: Some(HashMap::from([(
                "8080/tcp".to_owned(),
                Some(vec![PortBinding {
                    host_ip: Some("127.0.0.1".into()),
                    host_port: Some(String::new()),
                }]),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = resources.start_container("relay", body).await;
    let inspect = resources
        .docker()
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .expect("inspect the relay");
    let port = inspect
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get("8080/tcp").cloned().flatten())
        .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
        .expect("the relay's published port");
    let relay = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    e2e::poll::until(CONVERGE, POLL, || async {
        http.get(format!("{relay}/"))
            .send()
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await
    .expect("the relay answers");
    relay
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.invoker.base)
    }

    /// A function name unique to this test.
    pub fn name(&self, suffix: &str) -> String {
        self.resources.name(suffix)
    }

    pub async fn deploy(&self, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, "/system/functions", body)
            .await
    }

    pub async fn update(&self, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, "/system/functions", body)
            .await
    }

    pub async fn delete(&self, name: &str) -> reqwest::Response {
        self.send(
            reqwest::Method::DELETE,
            "/system/functions",
            &serde_json::json!({ "functionName": name }),
        )
        .await
    }

    pub async fn scale(&self, name: &str, replicas: u64) -> reqwest::Response {
        self.send(
            reqwest::Method::POST,
            &format!("/system/scale-function/{name}"),
            &serde_json::json!({ "serviceName": name, "replicas": replicas }),
        )
        .await
    }

    pub async fn secret(&self, method: reqwest::Method, body: &Value) -> reqwest::Response {
        self.send(method, "/system/secrets", body).await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.invoker
            .http
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .expect("the provider answers")
    }

    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.invoker
            .http
            .get(self.url(path))
            .send()
            .await
            .expect("the provider answers")
    }

    pub async fn status(&self, name: &str) -> Result<FunctionStatus, String> {
        let res = self.get_raw(&format!("/system/function/{name}")).await;
        if res.status() != 200 {
            return Err(format!("get {name}: {}", res.status()));
        }
        res.json().await.map_err(|e| e.to_string())
    }

    /// Polls until the function reports `replicas` desired and `available` ready.
    pub async fn wait_replicas(&self, name: &str, replicas: u64, available: u64) -> FunctionStatus {
        e2e::poll::until(CONVERGE, POLL, || async {
            let s = self.status(name).await?;
            if s.replicas == replicas && s.available_replicas == available {
                Ok(s)
            } else {
                Err(format!(
                    "replicas {} available {}",
                    s.replicas, s.available_replicas
                ))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{name} never reached {replicas}/{available}: {e}"))
    }

    /// Polls until the endpoints list `n` addresses; returns them.
    pub async fn wait_endpoints(&self, name: &str, n: usize) -> Vec<String> {
        e2e::poll::until(CONVERGE, POLL, || async {
            let e = self.invoker.endpoints(name).await?;
            let addresses: Vec<String> = e.endpoints.into_iter().map(|e| e.address).collect();
            if addresses.len() == n {
                Ok(addresses)
            } else {
                Err(format!("endpoints {addresses:?}"))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{name} never had {n} endpoints: {e}"))
    }

    /// The engine objects still carrying the function: containers and services.
    pub async fn function_objects(&self, name: &str) -> Vec<String> {
        let docker = self.resources.docker();
        let filter = HashMap::from([(
            "label".to_owned(),
            vec![format!("com.openfaas.function={name}")],
        )]);
        let containers = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filter.clone()),
                ..Default::default()
            }))
            .await
            .expect("list containers");
        let services = docker
            .list_services(Some(ListServicesOptions {
                filters: Some(filter),
                ..Default::default()
            }))
            .await
            .expect("list services");
        containers
            .into_iter()
            .map(|c| format!("container {:?}", c.names.unwrap_or_default()))
            .chain(
                services
                    .into_iter()
                    .map(|s| format!("service {:?}", s.spec.and_then(|s| s.name))),
            )
            .collect()
    }
}

/// What a client invoking continuously saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub ok: u64,
    pub failures: Vec<String>,
    /// Distinct first lines of the answers (which image and version served).
    pub answers: std::collections::BTreeSet<String>,
}

/// Invokes `name` in a loop the way the gateway balances: round robin over the ready
/// endpoints, refreshed every 200 ms, until the returned sender is told to stop.
pub fn start_load(
    invoker: Invoker,
    name: String,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<LoadReport>) {
    let (stop, mut stopped) = watch::channel(false);
    let handle = tokio::spawn(async move {
        let mut report = LoadReport::default();
        let mut endpoints: Vec<String> = Vec::new();
        let mut refreshed = tokio::time::Instant::now() - REFRESH;
        let mut next = 0usize;
        while !*stopped.borrow_and_update() {
            if refreshed.elapsed() >= REFRESH {
                match invoker.endpoints(&name).await {
                    Ok(e) => endpoints = e.endpoints.into_iter().map(|e| e.address).collect(),
                    Err(e) => report.failures.push(e),
                }
                refreshed = tokio::time::Instant::now();
            }
            if endpoints.is_empty() {
                report.failures.push("no ready endpoint".into());
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            next = next.wrapping_add(1);
            let address = &endpoints[next % endpoints.len()];
            match invoker.invoke(address, INVOKE).await {
                Ok(body) => {
                    report.ok += 1;
                    report
                        .answers
                        .insert(body.lines().next().unwrap_or_default().to_owned());
                }
                Err(e) => report.failures.push(e),
            }
        }
        report
    });
    (stop, handle)
}
