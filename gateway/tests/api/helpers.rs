//! Test harness: the gateway in-process on port 0, the in-memory provider behind the real
//! provider HTTP API on another port, and real HTTP servers standing in for function replicas.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;
use faas_provider::api::{self, ApiConfig};
use faas_provider::auth::Credentials;
use faas_provider::config::env_from;
use faas_provider::memory::InMemoryProvider;
use faas_provider::{FunctionName, Provider};
use futures::StreamExt;
use gateway::{Application, Backends, Config};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

pub const NAMESPACE: &str = "openfaas-fn";
pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cret-pw";

fn local_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind a local port")
}

fn port_of(l: &TcpListener) -> u16 {
    l.local_addr().expect("local address").port()
}

/// An address nothing listens on: connections to it are refused.
pub fn refused_address() -> String {
    let l = local_listener();
    let address = format!("127.0.0.1:{}", port_of(&l));
    drop(l);
    address
}

/// The in-memory provider served over the provider HTTP API, as provider-swarm serves it.
pub struct TestProvider {
    pub memory: InMemoryProvider,
    pub url: String,
}

pub async fn spawn_provider(credentials: Option<Credentials>) -> TestProvider {
    let memory = InMemoryProvider::new(NAMESPACE);
    let provider: Arc<dyn Provider> = Arc::new(memory.clone());
    let listener = local_listener();
    let url = format!("http://127.0.0.1:{}/", port_of(&listener));
    let config = ApiConfig {
        namespace: NAMESPACE.into(),
        credentials,
    };
    let server = HttpServer::new(move || {
        App::new().configure(api::configure(provider.clone(), config.clone()))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    TestProvider { memory, url }
}

/// What a stand-in replica saw; its default route answers with this as JSON.
#[derive(Debug, Serialize, Deserialize)]
pub struct Echo {
    pub replica: String,
    pub method: String,
    /// The request target as received: raw path and query.
    pub uri: String,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: String,
}

impl Echo {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Lets a test hold a call inside a replica and release it.
#[derive(Default)]
pub struct Hold {
    pub arrived: Notify,
    pub release: Notify,
    pub holder: Mutex<Option<String>>,
}

struct UpstreamState {
    id: String,
    calls: AtomicU64,
    hold: Arc<Hold>,
}

/// A real HTTP server standing in for one function replica.
pub struct Upstream {
    pub address: String,
    state: Arc<UpstreamState>,
    handle: actix_web::dev::ServerHandle,
}

impl Upstream {
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Stops the server: its port refuses connections afterwards.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

pub async fn spawn_upstream(id: &str) -> Upstream {
    spawn_upstream_with(id, Arc::default()).await
}

/// Routes: `/redirect` (302), `/status/{code}`, `/slow?ms=`, `/drip?chunks=&ms=` (a slow body),
/// `/count` (counts the body's bytes), `/download?bytes=`, `/hold`, `/own-ids`, and the echo on
/// every other path. Every answer carries `X-Replica`.
pub async fn spawn_upstream_with(id: &str, hold: Arc<Hold>) -> Upstream {
    let state = Arc::new(UpstreamState {
        id: id.to_owned(),
        calls: AtomicU64::new(0),
        hold,
    });
    let listener = local_listener();
    let address = format!("127.0.0.1:{}", port_of(&listener));
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::from(shared.clone()))
            .wrap(
                actix_web::middleware::DefaultHeaders::new().add(("X-Replica", shared.id.clone())),
            )
            .route("/redirect", web::to(redirect))
            .route("/status/{code}", web::to(status))
            .route("/slow", web::to(slow))
            .route("/drip", web::to(drip))
            .route("/count", web::to(count))
            .route("/download", web::to(download))
            .route("/hold", web::to(hold_call))
            .route("/own-ids", web::to(own_ids))
            .default_service(web::to(echo))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Upstream {
        address,
        state,
        handle,
    }
}

fn query(req: &HttpRequest, key: &str) -> u64 {
    api::query_map(req)
        .get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

async fn echo(req: HttpRequest, body: Bytes, state: web::Data<UpstreamState>) -> HttpResponse {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in req.headers() {
        headers
            .entry(k.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    HttpResponse::Ok()
        .insert_header(("X-Function", "echo"))
        .json(Echo {
            replica: state.id.clone(),
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
}

async fn redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", "/elsewhere"))
        .finish()
}

async fn status(path: web::Path<u16>) -> HttpResponse {
    let code = StatusCode::from_u16(path.into_inner()).unwrap_or(StatusCode::IM_A_TEAPOT);
    HttpResponse::build(code)
        .insert_header(("X-Function", "status"))
        .body(format!("status {}", code.as_u16()))
}

async fn slow(req: HttpRequest) -> HttpResponse {
    tokio::time::sleep(Duration::from_millis(query(&req, "ms"))).await;
    HttpResponse::Ok().body("slow done")
}

async fn drip(req: HttpRequest) -> HttpResponse {
    let chunks = query(&req, "chunks");
    let every = Duration::from_millis(query(&req, "ms"));
    let stream = futures::stream::iter(0..chunks).then(move |_| async move {
        tokio::time::sleep(every).await;
        Ok::<_, std::io::Error>(Bytes::from_static(b"drip\n"))
    });
    HttpResponse::Ok().streaming(stream)
}

async fn count(mut payload: web::Payload) -> HttpResponse {
    let mut bytes = 0u64;
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(c) => bytes += c.len() as u64,
            Err(e) => return HttpResponse::BadRequest().body(e.to_string()),
        }
    }
    HttpResponse::Ok().body(bytes.to_string())
}

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// `n` zero bytes, generated on the fly.
pub fn zeros(n: u64) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let chunk = ZEROS.len() as u64;
    futures::stream::iter((0..n.div_ceil(chunk)).map(move |i| {
        let len = chunk.min(n - i * chunk) as usize;
        Ok(Bytes::from_static(&ZEROS[..len]))
    }))
}

async fn download(req: HttpRequest) -> HttpResponse {
    let n = query(&req, "bytes");
    HttpResponse::Ok().streaming(zeros(n))
}

async fn hold_call(state: web::Data<UpstreamState>) -> HttpResponse {
    state.calls.fetch_add(1, Ordering::SeqCst);
    *state.hold.holder.lock().unwrap() = Some(state.id.clone());
    state.hold.arrived.notify_one();
    state.hold.release.notified().await;
    HttpResponse::Ok().body("released")
}

async fn own_ids() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("X-Start-Time", "7"))
        .insert_header(("X-Call-Id", "function-set"))
        .finish()
}

/// A stand-in Prometheus answering the instant-query API with fixed samples, recording queries.
pub struct FakePrometheus {
    pub port: u16,
    pub queries: Arc<Mutex<Vec<String>>>,
}

pub async fn spawn_prometheus(samples: Vec<(&str, f64)>) -> FakePrometheus {
    let result: Vec<serde_json::Value> = samples
        .into_iter()
        .map(|(name, v)| serde_json::json!({"metric": {"function_name": name}, "value": [1.7e9, v.to_string()]}))
        .collect();
    let answer = serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}});
    let queries: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = queries.clone();
    let listener = local_listener();
    let port = port_of(&listener);
    let server = HttpServer::new(move || {
        let answer = answer.clone();
        let seen = seen.clone();
        App::new().route(
            "/api/v1/query",
            web::get().to(move |req: HttpRequest| {
                let answer = answer.clone();
                let seen = seen.clone();
                async move {
                    if let Some(q) = api::query_map(&req).get("query") {
                        seen.lock().unwrap().push(q.clone());
                    }
                    HttpResponse::Ok().json(answer)
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    FakePrometheus { port, queries }
}

pub struct TestApp {
    pub address: String,
    pub metrics_address: String,
    pub provider: TestProvider,
    /// Does not follow redirects, so tests see what the gateway answered.
    pub client: reqwest::Client,
    /// Holds the credential files while the app runs.
    _secrets: Option<tempfile::TempDir>,
}

/// Options for `spawn_app_with`.
#[derive(Default)]
pub struct Options {
    pub env: Vec<(&'static str, String)>,
    pub basic_auth: bool,
    /// Point the gateway at this provider URL instead of the test provider.
    pub provider_url: Option<String>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub fn credentials() -> Credentials {
    Credentials::new(USER, PASSWORD)
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let (app, provider, secrets) = build_app(options).await;
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port());
    actix_web::rt::spawn(app.run_until_stopped(std::future::pending()));
    TestApp {
        address,
        metrics_address,
        provider,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _secrets: secrets,
    }
}

/// The application built (listeners bound) but not yet running, with its provider and the
/// credential files it reads.
pub async fn build_app(options: Options) -> (Application, TestProvider, Option<tempfile::TempDir>) {
    let secrets = options.basic_auth.then(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("basic-auth-user"), format!("{USER}\n")).unwrap();
        std::fs::write(
            dir.path().join("basic-auth-password"),
            format!("{PASSWORD}\n"),
        )
        .unwrap();
        dir
    });
    let provider = spawn_provider(options.basic_auth.then(credentials)).await;
    let mut env: Vec<(&str, String)> = vec![
        ("port", "0".into()),
        ("metrics_port", "0".into()),
        (
            "functions_provider_url",
            options
                .provider_url
                .clone()
                .unwrap_or_else(|| provider.url.clone()),
        ),
        ("faas_prometheus_host", "127.0.0.1".into()),
        // Nothing listens here unless a test points the gateway at a stand-in.
        (
            "faas_prometheus_port",
            refused_address().rsplit_once(':').unwrap().1.to_owned(),
        ),
        ("basic_auth", options.basic_auth.to_string()),
    ];
    if let Some(dir) = &secrets {
        env.push(("secret_mount_path", dir.path().to_str().unwrap().to_owned()));
    }
    for (k, v) in options.env {
        env.retain(|(key, _)| *key != k);
        env.push((k, v));
    }
    let config =
        Config::from_env(env_from(env.iter().map(|(k, v)| (*k, v.as_str())))).expect("config");
    let backends = Backends::http(&config).expect("backends");
    let app = Application::build(config, backends).await.expect("build");
    (app, provider, secrets)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn admin(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.basic_auth(USER, Some(PASSWORD))
    }

    /// Deploys `name` through the gateway and points its replicas at `upstreams`.
    pub async fn deploy(&self, name: &str, upstreams: &[&Upstream]) {
        self.deploy_with_labels(name, upstreams, serde_json::json!({}))
            .await;
    }

    pub async fn deploy_with_labels(
        &self,
        name: &str,
        upstreams: &[&Upstream],
        labels: serde_json::Value,
    ) {
        let res = self
            .admin(self.client.post(self.url("/system/functions")))
            .json(&serde_json::json!({"service": name, "image": format!("test/{name}:latest"), "labels": labels}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            202,
            "deploy {name}: {}",
            res.text().await.unwrap()
        );
        self.set_upstreams(name, upstreams.iter().map(|u| u.address.clone()).collect());
    }

    pub fn set_upstreams(&self, name: &str, addresses: Vec<String>) {
        self.provider
            .memory
            .set_upstreams(&FunctionName::parse(name).unwrap(), addresses);
    }

    pub async fn invoke(&self, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).send().await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.metrics_address))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Polls `check` until it yields a value or `timeout` passes; on timeout panics with the last
/// state `check` reported.
pub async fn poll_until<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if start.elapsed() > timeout => {
                panic!("gave up after {timeout:?}; last state: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// A replica that answers the first request on each connection, keeps the connection open, then
/// closes it without answering when the second request arrives: the race of a pooled
/// connection closed by the server just as it is reused.
pub fn spawn_closing_upstream() -> String {
    use std::io::{Read, Write};
    let listener = local_listener();
    let address = format!("127.0.0.1:{}", port_of(&listener));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let read_request = |s: &mut std::net::TcpStream| -> bool {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    true
                };
                if read_request(&mut stream) {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                    // The next request is read and dropped with the connection.
                    let _ = read_request(&mut stream);
                }
            });
        }
    });
    address
}
