//! Test fixtures: the worker in-process on port 0, a real NATS (the e2e harness), a stand-in
//! gateway/function and a callback receiver, both real HTTP servers on port 0.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use async_nats::jetstream;
use bytes::Bytes;
use e2e::nats::NatsServer;
use faas_provider::api::{self, ApiConfig};
use faas_provider::auth::Credentials;
use faas_provider::config::env_from;
use faas_provider::memory::InMemoryProvider;
use faas_provider::queue::{DeadLetter, Publisher, DEAD_LETTER_STREAM, REQUEST_STREAM};
use faas_provider::types::{GoUrl, QueueRequest};
use faas_provider::Provider;
use queue_worker::{Application, Config};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub const WAIT: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(20);

/// Bounded poll (the harness's), with this suite's interval.
pub async fn until<T, F, Fut>(timeout: Duration, check: F) -> Result<T, e2e::poll::Timeout>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    e2e::poll::until(timeout, POLL, check).await
}

// ---------------------------------------------------------------------------------------------
// The worker

pub struct TestApp {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<std::io::Result<()>>,
}

/// The env every test starts from: NATS and the stand-in gateway, short waits.
pub fn base_env(nats: &NatsServer, upstream: &Upstream) -> Vec<(String, String)> {
    [
        ("faas_nats_address", "127.0.0.1".to_owned()),
        ("faas_nats_port", nats.port().to_string()),
        ("faas_gateway_address", "127.0.0.1".to_owned()),
        ("faas_gateway_port", upstream.port.to_string()),
        ("port", "0".to_owned()),
        ("max_inflight", "10".to_owned()),
        ("ack_wait", "5s".to_owned()),
        ("max_retry_attempts", "5".to_owned()),
        ("initial_retry_wait", "20ms".to_owned()),
        ("max_retry_wait", "100ms".to_owned()),
        ("callback_retry_wait", "20ms".to_owned()),
        ("callback_max_attempts", "5".to_owned()),
        ("shutdown_timeout", "5s".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Starts the worker in-process with `base_env` plus `overrides`.
pub async fn spawn_app(
    nats: &NatsServer,
    upstream: &Upstream,
    overrides: &[(&str, &str)],
) -> TestApp {
    spawn_app_with(nats, upstream, overrides, None).await
}

/// As `spawn_app`, with the provider `gateway_invoke=false` resolves replicas through.
pub async fn spawn_app_with(
    nats: &NatsServer,
    upstream: &Upstream,
    overrides: &[(&str, &str)],
    provider: Option<Arc<dyn Provider>>,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        faas_provider::telemetry::init(true);
    }
    let mut env: BTreeMap<String, String> = base_env(nats, upstream).into_iter().collect();
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = Config::from_env(env_from(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
        .expect("config");
    let app = Application::build(config, provider).await.expect("build");
    let port = app.port();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    let test_app = TestApp {
        port,
        stop: Some(tx),
        handle,
    };
    until(WAIT, || async {
        match test_app.healthz().await {
            200 => Ok(()),
            s => Err(format!("/healthz answered {s}")),
        }
    })
    .await
    .expect("the worker binds its consumer");
    test_app
}

impl TestApp {
    pub async fn healthz(&self) -> u16 {
        reqwest::get(format!("http://127.0.0.1:{}/healthz", self.port))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// Signals shutdown (as SIGTERM does) and waits for the worker to return.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub async fn stopped(mut self) {
        self.signal_stop();
        (&mut self.handle)
            .await
            .expect("worker task")
            .expect("worker result");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// The value of metric line `name{labels}` (labels in the exporter's order), or 0.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------------
// NATS side

/// A publisher connected to `nats` (it connects in the background).
pub async fn publisher(nats: &NatsServer) -> Publisher {
    let p = Publisher::connect(&nats.url(), Duration::from_secs(5))
        .await
        .expect("publisher");
    until(WAIT, || async {
        if p.is_connected() {
            Ok(())
        } else {
            Err("publisher not connected".to_owned())
        }
    })
    .await
    .expect("publisher connects");
    p
}

pub async fn jetstream(nats: &NatsServer) -> jetstream::Context {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    jetstream::new(client)
}

/// A POST to `function` carrying `call_id`, and a callback URL if given.
pub fn request(function: &str, call_id: &str, callback: Option<&str>) -> QueueRequest {
    let mut header = BTreeMap::new();
    header.insert("X-Call-Id".to_owned(), vec![call_id.to_owned()]);
    header.insert("Content-Type".to_owned(), vec!["text/plain".to_owned()]);
    if let Some(cb) = callback {
        header.insert("X-Callback-Url".to_owned(), vec![cb.to_owned()]);
    }
    QueueRequest {
        header,
        host: "127.0.0.1:8080".into(),
        body: format!("body-{call_id}").into_bytes(),
        method: "POST".into(),
        function: function.into(),
        callback_url: callback.map(|cb| GoUrl::from(&url::Url::parse(cb).expect("callback URL"))),
        ..Default::default()
    }
}

/// Messages left in the request stream, and the default consumer's not-yet-delivered and
/// delivered-but-unacked counts.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueState {
    pub stored: u64,
    pub pending: u64,
    pub ack_pending: usize,
}

pub async fn queue_state(js: &jetstream::Context, durable: &str) -> QueueState {
    let mut stream = js.get_stream(REQUEST_STREAM).await.expect("stream");
    let stored = stream.info().await.expect("stream info").state.messages;
    let info = stream.consumer_info(durable).await.expect("consumer info");
    QueueState {
        stored,
        pending: info.num_pending,
        ack_pending: info.num_ack_pending,
    }
}

/// Polls until every message is acknowledged: nothing stored, pending or unacked, so no
/// further delivery (and so no duplicate) can happen.
pub async fn wait_until_drained(js: &jetstream::Context, durable: &str) {
    wait_until_consumed(js, durable, 0).await
}

/// As `wait_until_drained`, while `others` messages of other queues stay stored.
pub async fn wait_until_consumed(js: &jetstream::Context, durable: &str, others: u64) {
    let empty = QueueState {
        stored: others,
        pending: 0,
        ack_pending: 0,
    };
    until(WAIT, || async {
        let state = queue_state(js, durable).await;
        if state == empty {
            Ok(())
        } else {
            Err(format!("{state:?}"))
        }
    })
    .await
    .expect("the queue drains");
}

pub async fn dead_letters(js: &jetstream::Context) -> Vec<DeadLetter> {
    let mut stream = js
        .get_stream(DEAD_LETTER_STREAM)
        .await
        .expect("dead-letter stream");
    let state = stream.info().await.expect("info").state.clone();
    let mut letters = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        if let Ok(m) = stream.get_raw_message(seq).await {
            letters.push(DeadLetter::from_parts(Some(&m.headers), m.payload));
        }
    }
    letters
}

// ---------------------------------------------------------------------------------------------
// HTTP stand-ins

/// One request as an HTTP server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names, first value.
    pub headers: HashMap<String, String>,
    pub body: Bytes,
}

impl Seen {
    fn from(req: &HttpRequest, body: Bytes) -> Self {
        Self {
            method: req.method().to_string(),
            path: req.path().to_owned(),
            query: req.query_string().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body,
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    pub fn call_id(&self) -> String {
        self.header("x-call-id").to_owned()
    }
}

/// A stand-in for the gateway's `/function/<name>/...`. Behaviour by function name:
/// `flaky` answers 429 (`Retry-After: 0`), then 503, then 200 per call id; `fail` always 500;
/// `bad` 400; `hold` waits until [`Upstream::release`]; anything else echoes with 200.
pub struct Upstream {
    pub port: u16,
    state: Arc<UpstreamState>,
    _server: ServerGuard,
}

#[derive(Default)]
struct UpstreamState {
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
    release: Mutex<Option<watch::Sender<bool>>>,
    released: Mutex<Option<watch::Receiver<bool>>>,
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn upstream_handler(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<UpstreamState>,
) -> HttpResponse {
    let seen = Seen::from(&req, body.clone());
    let function = seen
        .path
        .strip_prefix("/function/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("")
        .to_owned();
    let call_id = seen.call_id();
    let nth = {
        let mut all = state.seen.lock().unwrap();
        all.push(seen);
        all.iter().filter(|s| s.call_id() == call_id).count()
    };
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let _guard = InFlight(&state.in_flight);
    match function.as_str() {
        "flaky" => match nth {
            1 => HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", "0"))
                .body("slow down"),
            2 => HttpResponse::ServiceUnavailable().body("unavailable"),
            _ => echo(body),
        },
        "fail" => HttpResponse::InternalServerError().body("boom"),
        "bad" => HttpResponse::BadRequest().body("bad input"),
        "hold" => {
            let rx = state.released.lock().unwrap().clone();
            if let Some(mut rx) = rx {
                let _ = rx.wait_for(|r| *r).await;
            }
            echo(body)
        }
        _ => echo(body),
    }
}

fn echo(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .insert_header(("X-Duration-Seconds", "0.000123"))
        .insert_header(("X-Fn-Header", "from-function"))
        .body(body)
}

impl Upstream {
    pub fn start() -> Upstream {
        let (tx, rx) = watch::channel(false);
        let state = web::Data::new(UpstreamState {
            release: Mutex::new(Some(tx)),
            released: Mutex::new(Some(rx)),
            ..Default::default()
        });
        let data = state.clone();
        let (port, server) = serve(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(upstream_handler))
        });
        Upstream {
            port,
            state: state.into_inner(),
            _server: server,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Calls per call id.
    pub fn counts(&self) -> HashMap<String, usize> {
        count_ids(&self.seen())
    }

    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// Lets every held call (and every later one) answer.
    pub fn release(&self) {
        if let Some(tx) = self.state.release.lock().unwrap().as_ref() {
            let _ = tx.send(true);
        }
    }
}

fn count_ids(seen: &[Seen]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for s in seen {
        *counts.entry(s.call_id()).or_insert(0) += 1;
    }
    counts
}

/// A callback receiver that answers 503 to its first `fail_first` requests, then 200.
pub struct Receiver {
    pub port: u16,
    state: Arc<ReceiverState>,
    _server: ServerGuard,
}

struct ReceiverState {
    seen: Mutex<Vec<(Seen, u16)>>,
    fail_first: usize,
}

async fn receiver_handler(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let mut seen = state.seen.lock().unwrap();
    let status = if seen.len() < state.fail_first {
        503
    } else {
        200
    };
    seen.push((Seen::from(&req, body), status));
    if status == 200 {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::ServiceUnavailable().finish()
    }
}

impl Receiver {
    pub fn start(fail_first: usize) -> Receiver {
        let state = web::Data::new(ReceiverState {
            seen: Mutex::new(Vec::new()),
            fail_first,
        });
        let data = state.clone();
        let (port, server) = serve(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receiver_handler))
        });
        Receiver {
            port,
            state: state.into_inner(),
            _server: server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/callback?from=worker", self.port)
    }

    /// Every request with the status it was answered.
    pub fn seen(&self) -> Vec<(Seen, u16)> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests answered 200, per call id.
    pub fn delivered(&self) -> HashMap<String, usize> {
        let ok: Vec<Seen> = self
            .seen()
            .into_iter()
            .filter(|(_, status)| *status == 200)
            .map(|(s, _)| s)
            .collect();
        count_ids(&ok)
    }
}

/// The provider HTTP API over an in-memory provider, on port 0, behind basic auth.
pub struct ProviderApi {
    pub url: String,
    pub provider: InMemoryProvider,
    _server: ServerGuard,
}

impl ProviderApi {
    pub fn start(credentials: Credentials) -> ProviderApi {
        let provider = InMemoryProvider::new(faas_provider::DEFAULT_NAMESPACE);
        let config = ApiConfig {
            namespace: faas_provider::DEFAULT_NAMESPACE.into(),
            credentials: Some(credentials),
        };
        let shared: Arc<dyn Provider> = Arc::new(provider.clone());
        let (port, server) =
            serve(move || App::new().configure(api::configure(shared.clone(), config.clone())));
        ProviderApi {
            url: format!("http://127.0.0.1:{port}/"),
            provider,
            _server: server,
        }
    }
}

/// Stops an actix server when dropped.
struct ServerGuard(Option<oneshot::Sender<()>>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

fn serve<F, I>(factory: F) -> (u16, ServerGuard)
where
    F: Fn() -> App<I> + Send + Clone + 'static,
    I: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
{
    let listener = faas_provider::server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(factory)
        .workers(2)
        .backlog(2048)
        .max_connections(50_000)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(faas_provider::server::run_until(server, async {
        let _ = rx.await;
    }));
    (port, ServerGuard(Some(tx)))
}
