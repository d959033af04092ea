//! Start-up and shutdown: `Application::build` binds the function and metrics ports (0 picks a
//! free one) and starts http mode's workers; `run_until_stopped` serves until the shutdown
//! future resolves, then drains as the Go watchdogs do.
//!
//! Shutdown sequence (SIGTERM in `main`): remove the lock file and answer `/_/health` with 503,
//! keep serving for `healthcheck_interval` so health checks and load balancers notice, stop
//! accepting connections, wait for calls in flight (streaming bodies included) for at most
//! `write_timeout`, close the remaining idle connections, then stop the workers (SIGTERM to
//! each group, SIGKILL after `write_timeout`).

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::Version;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use faas_provider::config::ConfigError;

use crate::calls::{self, Calls};
use crate::config::{Config, Mode};
use crate::health;
use crate::lifecycle::{Lifecycle, LockError};
use crate::metrics::Metrics;
use crate::modes::{self, classic, http, serializing, static_files, streaming, Function};
use crate::pool::{Pool, ResolveError};
use crate::reaper::Reaper;
use crate::watchdog::Watchdog;

/// How often recorded durations are folded into the histograms between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {what} port {port}")]
    Bind {
        what: &'static str,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Upstream(#[from] ResolveError),
    #[error(transparent)]
    StaticPath(#[from] static_files::NotADirectory),
    #[error("cannot set up metrics")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the HTTP server failed")]
    Server(#[from] std::io::Error),
    #[error(transparent)]
    Lock(#[from] LockError),
}

pub struct Application {
    server: Server,
    metrics_server: Server,
    port: u16,
    metrics_port: u16,
    watchdog: web::Data<Watchdog>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let reaper = Reaper::new();
        let lifecycle = Lifecycle::new((!config.suppress_lock).then(|| config.lock_path.clone()));
        lifecycle.prepare()?;
        let calls = Arc::new(Calls::new(config.max_inflight, Metrics::new()?));
        // Bind before starting any worker, so a taken port leaves no process behind.
        let function_listener = bind("function", config.port)?;
        let port = local_port(&function_listener, "function", config.port)?;
        let metrics_listener = bind("metrics", config.metrics_port)?;
        let metrics_port = local_port(&metrics_listener, "metrics", config.metrics_port)?;

        let mut pool = None;
        let function = match (config.mode, config.fprocess.clone(), &config.upstream) {
            (Mode::Static, _, _) => {
                static_files::check(&config)?;
                Function::Static
            }
            (Mode::Classic, Some(f), _) => {
                Function::Classic(classic::Classic::new(&config, f, reaper.clone()))
            }
            (Mode::Streaming, Some(f), _) => {
                Function::Streaming(streaming::Streaming::new(&config, f, reaper.clone()))
            }
            (Mode::Serializing, Some(f), _) => {
                Function::Serializing(serializing::Serializing::new(&config, f, reaper.clone()))
            }
            (Mode::Http, Some(f), Some(upstream)) => {
                let started = Pool::start(&config, upstream, f, reaper.clone()).await?;
                pool = Some(started.clone());
                Function::Http(http::HttpProxy::new(&config, started))
            }
            // `Config::from_env` refuses these; a hand-built Config might not.
            (Mode::Http, Some(_), None) => {
                return Err(ConfigError::new("upstream_url: mode=http needs one").into())
            }
            (mode, None, _) => {
                let mode = mode.name();
                return Err(ConfigError::new(format!("fprocess: mode={mode} needs one")).into());
            }
        };

        tracing::info!(
            mode = config.mode.name(),
            fprocess = ?config.fprocess.as_ref().map(|f| f.program()),
            read = ?config.read_timeout,
            write = ?config.write_timeout,
            exec = ?config.exec_timeout,
            health = ?config.healthcheck_interval,
            max_inflight = config.max_inflight,
            "watchdog configured"
        );
        let watchdog = web::Data::new(Watchdog {
            config,
            lifecycle,
            calls,
            function,
            pool,
            reaper,
        });
        let listeners = [(function_listener, port), (metrics_listener, metrics_port)];
        match servers(&watchdog, listeners) {
            Ok((server, metrics_server)) => Ok(Self {
                server,
                metrics_server,
                port,
                metrics_port,
                watchdog,
            }),
            Err(e) => {
                if let Some(pool) = &watchdog.pool {
                    pool.stop().await;
                }
                Err(e)
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// http mode's workers (tests kill one).
    pub fn pool(&self) -> Option<Arc<Pool>> {
        self.watchdog.pool.clone()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), RunError> {
        let Self {
            server,
            metrics_server,
            watchdog,
            ..
        } = self;
        let reaper = tokio::spawn(watchdog.reaper.clone().run());
        let calls = watchdog.calls.clone();
        let upkeep = tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP);
            loop {
                tick.tick().await;
                calls.metrics().upkeep();
            }
        });
        let handle = server.handle();
        let metrics_handle = metrics_server.handle();
        let servers = async { tokio::try_join!(server, metrics_server).map(drop) };
        let control = async {
            let result = serve_then_drain(&watchdog, &handle, shutdown).await;
            handle.stop(false).await;
            metrics_handle.stop(false).await;
            result
        };
        let result = tokio::select! {
            served = servers => served.map_err(RunError::from),
            controlled = control => controlled,
        };
        if let Some(pool) = &watchdog.pool {
            pool.stop().await;
        }
        reaper.abort();
        upkeep.abort();
        tracing::info!(in_flight = watchdog.calls.active(), "exiting");
        result
    }
}

/// Marks the watchdog ready, waits for `shutdown`, then drains (see the module docs).
async fn serve_then_drain(
    watchdog: &Watchdog,
    handle: &actix_web::dev::ServerHandle,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    tokio::pin!(shutdown);
    let first_worker = async {
        if let Some(pool) = &watchdog.pool {
            pool.wait_ready(None).await;
        }
    };
    let stopped_early = tokio::select! {
        () = first_worker => false,
        () = &mut shutdown => true,
    };
    if !stopped_early {
        watchdog.lifecycle.mark_ready()?;
        shutdown.await;
    }

    let config = &watchdog.config;
    tracing::info!(interval = ?config.healthcheck_interval,
                   "shutting down: no new connections after the health-check interval");
    watchdog.lifecycle.mark_unhealthy();
    tokio::time::sleep(config.healthcheck_interval).await;

    let calls = &watchdog.calls;
    tracing::info!(in_flight = calls.active(), "no new connections; draining");
    handle.pause().await;
    if tokio::time::timeout(config.write_timeout, calls.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(in_flight = calls.active(), write_timeout = ?config.write_timeout,
                       "calls still in flight after write_timeout; closing them");
    }
    Ok(())
}

/// The function server and the metrics server, on their bound listeners.
fn servers(
    watchdog: &web::Data<Watchdog>,
    [(function, port), (metrics_listener, metrics_port)]: [(std::net::TcpListener, u16); 2],
) -> Result<(Server, Server), StartError> {
    let config = &watchdog.config;
    let data = watchdog.clone();
    let server = HttpServer::new(move || app(data.clone()))
        .listen(function)
        .map_err(|source| bind_error("function", port, source))?
        .disable_signals()
        // As Go's net/http: a streamed body's last chunk must not wait on Nagle.
        .tcp_nodelay(true)
        .client_request_timeout(config.read_timeout)
        .shutdown_timeout(config.write_timeout.as_secs().max(1))
        .run();
    tracing::info!(port, "listening");

    let data = watchdog.clone();
    let metrics_server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .listen(metrics_listener)
    .map_err(|source| bind_error("metrics", metrics_port, source))?
    .workers(1)
    .disable_signals()
    .client_request_timeout(Duration::from_millis(500))
    .run();
    tracing::info!(port = metrics_port, "metrics listening");
    Ok((server, metrics_server))
}

/// One server thread's application.
fn app(
    watchdog: web::Data<Watchdog>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let function = web::scope("").wrap(from_fn(calls::track));
    let function = match watchdog.function {
        Function::Static => {
            function.default_service(static_files::service(&watchdog.config.static_path))
        }
        _ => function.default_service(web::to(modes::handle)),
    };
    App::new()
        .app_data(web::Data::from(watchdog.calls.clone()))
        .app_data(upstream_client())
        .app_data(watchdog)
        .service(web::resource("/_/health").route(web::get().to(health::health)))
        .service(web::resource("/_/ready").route(web::get().to(health::ready)))
        .service(function)
}

/// Keep-alive connections to the workers, for one server thread. No default headers (the
/// caller's are forwarded as they are), no redirects followed, no client-side timeout (the
/// call deadline governs).
fn upstream_client() -> awc::Client {
    awc::Client::builder()
        .no_default_headers()
        .disable_redirects()
        .disable_timeout()
        .max_http_version(Version::HTTP_11)
        .connector(
            awc::Connector::new()
                .limit(0)
                .conn_keep_alive(Duration::from_secs(10))
                .conn_lifetime(Duration::from_secs(300)),
        )
        .finish()
}

async fn metrics(watchdog: web::Data<Watchdog>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(watchdog.calls.metrics().render())
}

fn bind(what: &'static str, port: u16) -> Result<std::net::TcpListener, StartError> {
    faas_provider::server::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))
        .map_err(|source| bind_error(what, port, source))
}

fn local_port(
    listener: &std::net::TcpListener,
    what: &'static str,
    port: u16,
) -> Result<u16, StartError> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| bind_error(what, port, source))
}

fn bind_error(what: &'static str, port: u16, source: std::io::Error) -> StartError {
    StartError::Bind { what, port, source }
}
