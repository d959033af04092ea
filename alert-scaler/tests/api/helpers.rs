//! Test helpers: the in-memory provider served over HTTP, the alert-scaler in-process on port
//! 0, a gateway metrics endpoint whose counters the test drives, and the shipped
//! Prometheus/AlertManager files rendered for a test.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use alert_scaler::decision::Decision;
use alert_scaler::{Application, Config};
use faas_provider::api::{self, ApiConfig};
use faas_provider::auth::{Credentials, PASSWORD_FILE, USER_FILE};
use faas_provider::config::env_from;
use faas_provider::memory::InMemoryProvider;
use faas_provider::types::FunctionDeployment;
use faas_provider::{FunctionName, Provider, DEFAULT_NAMESPACE};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cr3t-for-tests";
/// A function whose scale calls the provider refuses (502), as an engine that is down would.
pub const BROKEN: &str = "broken";
/// A closed port: where Prometheus sends alerts when a test runs no AlertManager.
pub const NO_ALERTMANAGER: &str = "127.0.0.1:1";

fn bind_local() -> std::net::TcpListener {
    faas_provider::server::bind("127.0.0.1:0".parse().expect("address")).expect("bind")
}

/// Stops an in-process server when dropped.
struct Stop(Option<oneshot::Sender<()>>);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

fn serve(server: actix_web::dev::Server) -> Stop {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(faas_provider::server::run_until(server, async {
        let _ = rx.await;
    }));
    Stop(Some(tx))
}

/// The in-memory provider behind the real provider HTTP API.
pub struct ProviderServer {
    pub url: String,
    pub memory: InMemoryProvider,
    _stop: Stop,
}

pub fn spawn_provider(credentials: Option<Credentials>) -> ProviderServer {
    let memory = InMemoryProvider::new(DEFAULT_NAMESPACE);
    let provider: Arc<dyn Provider> = Arc::new(memory.clone());
    let config = ApiConfig {
        namespace: DEFAULT_NAMESPACE.into(),
        credentials,
    };
    let listener = bind_local();
    let port = listener.local_addr().expect("port").port();
    let server = HttpServer::new(move || {
        App::new()
            // Registered before the provider API, so it answers first.
            .route(
                &format!("/system/scale-function/{BROKEN}"),
                web::post().to(|| async {
                    HttpResponse::BadGateway()
                        .body("the container engine refused: no suitable node")
                }),
            )
            .configure(api::configure(provider.clone(), config.clone()))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    ProviderServer {
        url: format!("http://127.0.0.1:{port}/"),
        memory,
        _stop: serve(server),
    }
}

pub struct AppOptions {
    pub basic_auth: bool,
    /// Prometheus's port; the idler is off without one.
    pub prometheus_port: Option<u16>,
    pub reconcile_interval: &'static str,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            basic_auth: false,
            prometheus_port: None,
            reconcile_interval: "500ms",
        }
    }
}

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub credentials: Option<Credentials>,
    pub provider: ProviderServer,
    /// Holds `basic-auth-user` and `basic-auth-password` when auth is on.
    pub secrets: TempDir,
    _stop: Stop,
}

/// The credentials the provider and the alert-scaler share when auth is on.
pub fn credentials(basic_auth: bool) -> Option<Credentials> {
    basic_auth.then(|| Credentials::new(USER, PASSWORD))
}

pub async fn spawn_app(options: AppOptions) -> TestApp {
    let provider = spawn_provider(credentials(options.basic_auth));
    spawn_app_on(provider, options).await
}

/// The alert-scaler in front of a provider the test started (to point a gateway at it first).
pub async fn spawn_app_on(provider: ProviderServer, options: AppOptions) -> TestApp {
    let secrets = tempfile::tempdir().expect("temp dir");
    std::fs::write(secrets.path().join(USER_FILE), USER).expect("write user");
    std::fs::write(secrets.path().join(PASSWORD_FILE), PASSWORD).expect("write password");
    let credentials = credentials(options.basic_auth);
    let secret_path = secrets.path().display().to_string();
    let prometheus_port = options.prometheus_port.unwrap_or(1).to_string();
    let interval = if options.prometheus_port.is_some() {
        options.reconcile_interval
    } else {
        "0"
    };
    let config = Config::from_env(env_from([
        ("port", "0"),
        ("functions_provider_url", provider.url.as_str()),
        (
            "basic_auth",
            if options.basic_auth { "true" } else { "false" },
        ),
        ("secret_mount_path", secret_path.as_str()),
        ("faas_prometheus_host", "127.0.0.1"),
        ("faas_prometheus_port", prometheus_port.as_str()),
        ("reconcile_interval", interval),
        ("request_timeout", "5s"),
        ("decision_history", "20"),
    ]))
    .expect("config");
    faas_provider::telemetry::init(false);
    let client = Arc::new(config.http_provider().expect("provider client"));
    let client: Arc<dyn Provider> = client;
    let app = Application::build(config, client).expect("build");
    let port = app.port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client"),
        credentials,
        provider,
        secrets,
        _stop: Stop(Some(tx)),
    }
}

/// An AlertManager webhook body (version 4) with one alert per `(status, function_name)`;
/// `None` leaves `function_name` out, as `service_down` does.
pub fn webhook(alerts: &[(&str, Option<&str>)]) -> Value {
    let alerts: Vec<Value> = alerts
        .iter()
        .map(|(status, function)| {
            let mut labels = json!({
                "alertname": "APIHighInvocationRate",
                "code": "200",
                "instance": "gateway:8082",
                "job": "gateway",
                "monitor": "faas-monitor",
                "service": "gateway",
                "severity": "major",
            });
            if let Some(f) = function {
                labels["function_name"] = json!(f);
            } else {
                labels["alertname"] = json!("service_down");
            }
            json!({
                "status": status,
                "labels": labels,
                "annotations": {"summary": "High invocation total"},
                "startsAt": "2024-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "0123456789abcdef",
            })
        })
        .collect();
    json!({
        "receiver": "scale-up",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": "APIHighInvocationRate", "service": "gateway"},
        "commonLabels": {"alertname": "APIHighInvocationRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}/{}:{alertname=\"APIHighInvocationRate\", service=\"gateway\"}",
        "truncatedAlerts": 0,
    })
}

impl TestApp {
    fn with_auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some(c) => req.header(reqwest::header::AUTHORIZATION, c.header_value()),
            None => req,
        }
    }

    pub async fn post_alert_body(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.with_auth(self.http.post(format!("{}/system/alert", self.url)))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /system/alert")
    }

    /// Posts a webhook and returns its status and body.
    pub async fn alert(&self, alerts: &[(&str, Option<&str>)]) -> (u16, String) {
        let res = self.post_alert_body(webhook(alerts).to_string()).await;
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }

    pub async fn decisions(&self, function: &str) -> Vec<Decision> {
        let res = self
            .with_auth(
                self.http
                    .get(format!("{}/system/scaling-decisions", self.url)),
            )
            .query(&[("function", function)])
            .send()
            .await
            .expect("GET decisions");
        assert_eq!(res.status().as_u16(), 200, "decisions for {function}");
        res.json().await.expect("decisions JSON")
    }

    pub async fn metrics(&self) -> String {
        let res = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(res.status().as_u16(), 200);
        res.text().await.expect("metrics text")
    }

    pub async fn deploy(&self, name: &str, labels: &[(&str, &str)]) {
        self.provider
            .memory
            .deploy(FunctionDeployment {
                service: FunctionName::parse(name).expect("name"),
                image: format!("functions/{name}:latest"),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            })
            .await
            .expect("deploy");
    }

    pub async fn replicas(&self, name: &str) -> u64 {
        let name = FunctionName::parse(name).expect("name");
        self.provider
            .memory
            .get(&name)
            .await
            .expect("function")
            .replicas
    }

    pub async fn scale(&self, name: &str, replicas: u64) {
        let name = FunctionName::parse(name).expect("name");
        self.provider
            .memory
            .scale(&name, replicas)
            .await
            .expect("scale");
    }
}

/// One counter series: `base` plus `per_second` since `since` while load is on.
struct Counter {
    base: f64,
    per_second: f64,
    since: Instant,
}

impl Counter {
    fn value(&self) -> f64 {
        (self.base + self.per_second * self.since.elapsed().as_secs_f64()).floor()
    }
}

#[derive(Default)]
struct GatewayState {
    calls: BTreeMap<String, Counter>,
    in_flight: BTreeMap<String, u64>,
}

/// The gateway's metrics port as Prometheus scrapes it (`gateway_function_invocation_total`,
/// `gateway_function_invocations_in_flight`), with values the test drives.
pub struct FakeGateway {
    pub address: String,
    state: Arc<Mutex<GatewayState>>,
    _stop: Stop,
}

impl FakeGateway {
    /// Reports `gateway_service_count` for the functions `provider` has, as the gateway's
    /// poller does (labels `name.openfaas-fn`).
    pub fn start(provider: &InMemoryProvider) -> Self {
        let state = Arc::new(Mutex::new(GatewayState::default()));
        let shared = web::Data::from(state.clone());
        let provider = web::Data::new(provider.clone());
        let listener = bind_local();
        let port = listener.local_addr().expect("port").port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(provider.clone())
                .route("/metrics", web::get().to(gateway_metrics))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        Self {
            address: format!("127.0.0.1:{port}"),
            state,
            _stop: serve(server),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut GatewayState) -> T) -> T {
        f(&mut self.state.lock().expect("gateway state"))
    }

    /// `function_name` as the gateway labels it (`f` or `f.openfaas-fn`).
    pub fn start_load(&self, label: &str, per_second: f64) {
        self.with(|s| {
            let base = s.calls.get(label).map_or(0.0, Counter::value);
            s.calls.insert(
                label.to_owned(),
                Counter {
                    base,
                    per_second,
                    since: Instant::now(),
                },
            );
        });
    }

    pub fn stop_load(&self, label: &str) {
        self.start_load(label, 0.0);
    }

    /// One call completing now.
    pub fn call(&self, label: &str) {
        self.with(|s| {
            let base = s.calls.get(label).map_or(0.0, Counter::value) + 1.0;
            s.calls.insert(
                label.to_owned(),
                Counter {
                    base,
                    per_second: 0.0,
                    since: Instant::now(),
                },
            );
        });
    }

    pub fn set_in_flight(&self, label: &str, n: u64) {
        self.with(|s| {
            s.in_flight.insert(label.to_owned(), n);
        });
    }
}

async fn gateway_metrics(
    state: web::Data<Mutex<GatewayState>>,
    provider: web::Data<InMemoryProvider>,
) -> HttpResponse {
    let functions = provider.list().await.expect("list");
    let body = {
        let s = state.lock().expect("gateway state");
        let mut out = String::from("# HELP gateway_function_invocation_total Function metrics\n# TYPE gateway_function_invocation_total counter\n");
        for (label, c) in &s.calls {
            out.push_str(&format!(
                "gateway_function_invocation_total{{code=\"200\",function_name=\"{label}\"}} {}\n",
                c.value()
            ));
        }
        out.push_str("# HELP gateway_service_count Desired replicas of each function\n# TYPE gateway_service_count gauge\n");
        for f in &functions {
            out.push_str(&format!(
                "gateway_service_count{{function_name=\"{}.{DEFAULT_NAMESPACE}\"}} {}\n",
                f.name, f.replicas
            ));
        }
        out.push_str("# HELP gateway_function_invocations_in_flight Calls in flight\n# TYPE gateway_function_invocations_in_flight gauge\n");
        for (label, n) in &s.in_flight {
            out.push_str(&format!(
                "gateway_function_invocations_in_flight{{function_name=\"{label}\"}} {n}\n"
            ));
        }
        out
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// Intervals the shipped files are rendered with. The tests shorten them; the benchmark
/// (`bench/autoscaling.sh`) also runs with the shipped ones (`AUTOSCALING_INTERVALS=shipped`).
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    pub scrape: &'static str,
    pub evaluation: &'static str,
    pub group_wait: &'static str,
    pub group_interval: &'static str,
    pub repeat_interval: &'static str,
    /// The idler's `reconcile_interval` and the functions' zero-duration in the idler test.
    pub reconcile: &'static str,
    pub zero_duration: &'static str,
}

impl Intervals {
    pub const TEST: Intervals = Intervals {
        scrape: "1s",
        evaluation: "1s",
        group_wait: "1s",
        group_interval: "2s",
        repeat_interval: "30s",
        reconcile: "500ms",
        zero_duration: "4s",
    };
    /// As in `deploy/`, with the alert-scaler's default `reconcile_interval` and a short
    /// zero-duration (the default 15m would only add 15m).
    pub const SHIPPED: Intervals = Intervals {
        scrape: "5s",
        evaluation: "5s",
        group_wait: "5s",
        group_interval: "10s",
        repeat_interval: "30s",
        reconcile: "30s",
        zero_duration: "30s",
    };

    pub fn from_env() -> Intervals {
        match std::env::var("AUTOSCALING_INTERVALS").as_deref() {
            Ok("shipped") => Intervals::SHIPPED,
            _ => Intervals::TEST,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "scrape {}, evaluation {}, group_wait {}, group_interval {}, repeat_interval {}, \
             reconcile {}, zero-duration {}",
            self.scrape,
            self.evaluation,
            self.group_wait,
            self.group_interval,
            self.repeat_interval,
            self.reconcile,
            self.zero_duration
        )
    }
}

/// A file of `deploy/` as shipped.
pub fn shipped(file: &str) -> String {
    let path = format!("{}/../deploy/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// A shipped file with each `from` replaced by `to`; every `from` must be in the file, so a
/// change to the shipped file that the rendering no longer matches fails loudly.
pub fn render(file: &str, substitutions: &[(&str, String)]) -> String {
    let mut text = shipped(file);
    for (from, to) in substitutions {
        assert!(
            text.contains(from),
            "deploy/{file} no longer contains {from:?}; update the rendering in tests/api/helpers.rs"
        );
        text = text.replace(from, to);
    }
    text
}

/// `deploy/prometheus.yml` scraping `gateway` and alerting `alertmanager` (a `host:port`;
/// a closed port when the test has none). The rule file is `rules.yml`, where
/// `e2e::prometheus::Prometheus` writes it.
pub fn prometheus_config(gateway: &str, alertmanager: &str, i: Intervals) -> String {
    render(
        "prometheus.yml",
        &[
            ("'gateway:8082'", format!("'{gateway}'")),
            ("'alertmanager:9093'", format!("'{alertmanager}'")),
            ("'alert.rules.yml'", "'rules.yml'".to_owned()),
            (
                "scrape_interval: 15s",
                format!("scrape_interval: {}", i.scrape),
            ),
            (
                "scrape_interval: 5s",
                format!("scrape_interval: {}", i.scrape),
            ),
            (
                "evaluation_interval: 5s",
                format!("evaluation_interval: {}", i.evaluation),
            ),
        ],
    )
}

/// `deploy/alertmanager.yml` posting to the alert-scaler at `webhook_url`.
pub fn alertmanager_config(webhook_url: &str, password_file: &str, i: Intervals) -> String {
    render(
        "alertmanager.yml",
        &[
            ("http://gateway:8080/system/alert", webhook_url.to_owned()),
            ("/run/secrets/basic-auth-password", password_file.to_owned()),
            ("group_wait: 5s", format!("group_wait: {}", i.group_wait)),
            (
                "group_interval: 10s",
                format!("group_interval: {}", i.group_interval),
            ),
            (
                "repeat_interval: 30s",
                format!("repeat_interval: {}", i.repeat_interval),
            ),
        ],
    )
}

/// Polls until `check` says yes; on timeout, fails with the last state seen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    e2e::poll::until(timeout, Duration::from_millis(100), check)
        .await
        .unwrap_or_else(|timeout| panic!("{what}: {timeout}"))
}

/// How many series an instant query returns, straight from Prometheus's API.
pub async fn prometheus_count(prometheus_url: &str, query: &str) -> Result<usize, String> {
    let res = reqwest::Client::new()
        .get(format!("{prometheus_url}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .map_err(|e| format!("query {query}: {e}"))?;
    let v: Value = res
        .json()
        .await
        .map_err(|e| format!("query {query}: {e}"))?;
    v["data"]["result"]
        .as_array()
        .map(Vec::len)
        .ok_or_else(|| format!("query {query}: {v}"))
}

/// Waits until Prometheus scrapes the gateway: its first scrape comes up to 5s after start
/// (target discovery is throttled), which would otherwise be counted in the measurements.
pub async fn gateway_scraped(prometheus_url: &str) {
    eventually(
        "Prometheus scrapes the gateway",
        Duration::from_secs(30),
        || async move {
            match prometheus_count(prometheus_url, "up{job=\"gateway\"} == 1").await? {
                0 => Err("gateway target not up yet".to_owned()),
                _ => Ok(()),
            }
        },
    )
    .await;
}

/// `code`s of a function's decisions, oldest first.
pub fn codes(decisions: &[Decision]) -> Vec<&'static str> {
    decisions.iter().rev().map(|d| d.code.as_str()).collect()
}
