//! `Application`: binds the main and metrics listeners, then serves until told to stop.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use faas_provider::api::ApiConfig;
use faas_provider::client::HttpProvider;
use faas_provider::queue::Publisher;
use faas_provider::{server, Provider, ProviderError};
use futures::future::BoxFuture;
use futures::FutureExt;

use crate::alerts::AlertScaler;
use crate::async_call::AsyncInvoker;
use crate::balancer::Balancer;
use crate::config::Config;
use crate::metrics::{self, Metrics};
use crate::prometheus::InvocationCounts;
use crate::provider::GatewayProvider;
use crate::proxy::{self, Invoker};
use crate::{poller, routes};

/// A replica that does not accept a connection within this is skipped for another.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// JetStream acknowledges a queued call within this, or the caller gets 503.
const NATS_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Prometheus answers the list API's query within this, or counts read 0.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The providers the gateway talks to: functions (and everything else) and logs.
pub struct Backends {
    pub functions: Arc<dyn Provider>,
    pub logs: Arc<dyn Provider>,
}

impl Backends {
    /// Production: HTTP clients of `functions_provider_url` and `logs_provider_url`, sending
    /// the gateway's credentials.
    pub fn http(config: &Config) -> Result<Self, ProviderError> {
        let client = |url: &url::Url| -> Result<Arc<dyn Provider>, ProviderError> {
            Ok(Arc::new(HttpProvider::new(
                url.as_str(),
                config.credentials.clone(),
                config.upstream_timeout,
            )?))
        };
        Ok(Self {
            functions: client(&config.functions_provider_url)?,
            logs: client(&config.logs_provider_url)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on the {listener} port")]
    Bind {
        listener: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot set up the metrics registry")]
    Metrics(#[from] metrics_exporter_prometheus::BuildError),
    #[error("faas_nats_address/faas_nats_port cannot be used")]
    Nats(#[source] faas_provider::queue::QueueError),
    #[error("cannot build the alert-scaler client")]
    AlertScaler(#[source] reqwest::Error),
}

pub struct Application {
    port: u16,
    metrics_port: u16,
    server: Server,
    metrics_server: Server,
    poller: BoxFuture<'static, ()>,
}

fn listen(listener: &'static str, port: u16) -> Result<(TcpListener, u16), StartupError> {
    let bind_error = |source| StartupError::Bind { listener, source };
    let l = server::bind(SocketAddr::from(([0, 0, 0, 0], port))).map_err(bind_error)?;
    let port = l.local_addr().map_err(bind_error)?.port();
    Ok((l, port))
}

impl Application {
    pub async fn build(config: Config, backends: Backends) -> Result<Self, StartupError> {
        let metrics = Arc::new(Metrics::new()?);
        let counts = InvocationCounts::new(
            &config.prometheus_host,
            config.prometheus_port,
            PROMETHEUS_TIMEOUT,
        );
        let provider: Arc<dyn Provider> = Arc::new(GatewayProvider::new(
            backends.functions.clone(),
            backends.logs,
            counts,
            config.function_namespace.clone(),
            config.write_timeout,
        ));
        let api_config = ApiConfig {
            namespace: config.function_namespace.clone(),
            credentials: config.credentials.clone(),
        };
        let invoker = web::Data::new(Invoker {
            balancer: Balancer::new(
                backends.functions.clone(),
                config.scale_from_zero,
                config.upstream_timeout,
            ),
            metrics: metrics.clone(),
            namespace: config.function_namespace.clone(),
            upstream_timeout: config.upstream_timeout,
            write_timeout: config.write_timeout,
            write_request_uri: config.write_request_uri,
        });

        // Connecting never waits for NATS: calls answer 503 until it is reachable.
        let queue = match &config.nats {
            Some(nats) => {
                let url = faas_provider::queue::nats_url(&nats.address, nats.port);
                let publisher = Publisher::connect(&url, NATS_ACK_TIMEOUT)
                    .await
                    .map_err(StartupError::Nats)?;
                if !publisher.wait_connected(NATS_ACK_TIMEOUT).await {
                    tracing::warn!(%url, "NATS is not reachable yet: /async-function answers 503 until it is");
                }
                Some(web::Data::new(AsyncInvoker::new(
                    publisher,
                    backends.functions.clone(),
                    config.function_namespace.clone(),
                    config.max_async_body,
                )))
            }
            None => None,
        };
        let scaler = match &config.alert_scaler_url {
            Some(url) => Some(web::Data::new(
                AlertScaler::new(url.clone(), config.upstream_timeout)
                    .map_err(StartupError::AlertScaler)?,
            )),
            None => None,
        };

        let (listener, port) = listen("main", config.port)?;
        let max_conns = config.max_conns;
        let connect_timeout = CONNECT_TIMEOUT.min(config.upstream_timeout);
        let mut server = HttpServer::new(move || {
            App::new()
                // One upstream client per worker thread: awc is not Send.
                .app_data(web::Data::new(proxy::client(max_conns, connect_timeout)))
                .configure(routes::configure(
                    provider.clone(),
                    api_config.clone(),
                    invoker.clone(),
                    queue.clone(),
                    scaler.clone(),
                ))
        })
        .client_request_timeout(config.read_timeout)
        .shutdown_timeout(config.write_timeout.as_secs().max(1))
        .disable_signals();
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                listener: "main",
                source,
            })?
            .run();

        let (metrics_listener, metrics_port) = listen("metrics", config.metrics_port)?;
        let exposition = metrics.clone();
        let metrics_server =
            HttpServer::new(move || App::new().configure(metrics::configure(exposition.clone())))
                .workers(1)
                .client_request_timeout(Duration::from_secs(5))
                .shutdown_timeout(1)
                .disable_signals()
                .listen(metrics_listener)
                .map_err(|source| StartupError::Bind {
                    listener: "metrics",
                    source,
                })?
                .run();

        tracing::info!(port, metrics_port, provider = %config.functions_provider_url, "gateway listening");
        let poller = poller::run(backends.functions, metrics, config.function_namespace).boxed();
        Ok(Self {
            port,
            metrics_port,
            server,
            metrics_server,
            poller,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Serves until `shutdown` resolves, then lets in-flight calls finish.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let metrics_handle = self.metrics_server.handle();
        let main = async move {
            let result = server::run_until(self.server, shutdown).await;
            metrics_handle.stop(true).await;
            result
        };
        tokio::select! {
            (main, metrics) = async { tokio::join!(main, self.metrics_server) } => main.and(metrics),
            () = self.poller => Ok(()),
        }
    }
}
