//! `Application`: builds the worker from its config (binding the `/healthz` + `/metrics`
//! listener, connecting to NATS in the background), then runs until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use faas_provider::queue::QueueError;
use faas_provider::Provider;
use tokio_util::sync::CancellationToken;

use crate::callback::Callback;
use crate::config::Config;
use crate::consumer::{Consumer, ConsumerConfig};
use crate::handler::Handler;
use crate::invoker::Invoker;
use crate::metrics::Metrics;
use crate::report::Reporter;

/// OpenFaaS's dial timeout for calls and callbacks.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("gateway_invoke=false needs a provider (functions_provider_url)")]
    NoProvider,
    #[error("cannot bind the HTTP listener")]
    Bind(#[source] std::io::Error),
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("cannot reach NATS")]
    Nats(#[source] QueueError),
}

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    consumer: Consumer,
}

type Health = Arc<dyn Fn() -> bool + Send + Sync>;

impl Application {
    /// `provider` resolves replicas when `gateway_invoke=false` (`main` passes an
    /// `HttpProvider` at `functions_provider_url`); it is unused otherwise.
    pub async fn build(
        config: Config,
        provider: Option<Arc<dyn Provider>>,
    ) -> Result<Self, StartupError> {
        let metrics = Metrics::new();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(config.max_inflight())
            .build()
            .map_err(StartupError::HttpClient)?;
        let gateway = config.gateway_url();
        let (invoker, reporter) = if config.gateway_invoke {
            let invoker = Invoker::via_gateway(client.clone(), &gateway, config.upstream_timeout);
            (invoker, None)
        } else {
            let provider = provider.ok_or(StartupError::NoProvider)?;
            let invoker = Invoker::direct(client.clone(), provider, config.upstream_timeout);
            let reporter = Reporter::new(
                client.clone(),
                &gateway,
                config.credentials.clone(),
                config.callback_timeout,
            );
            (invoker, Some(reporter))
        };
        let callback = Callback::new(client, config.callback_policy(), config.callback_timeout);
        let handler = Handler::new(
            invoker,
            callback,
            reporter,
            config.retry_policy(),
            metrics.clone(),
        );
        let nats = faas_provider::queue::connect(&config.nats_url(), "ironfaas-queue-worker")
            .await
            .map_err(StartupError::Nats)?;
        let consumer_config = ConsumerConfig {
            // Checked by `Config::from_env`; a hand-built config falls back to the default.
            queue: config.queue_name().unwrap_or_default(),
            max_inflight: config.max_inflight(),
            ack_wait: config.ack_wait,
            shutdown_timeout: config.shutdown_timeout,
        };
        let consumer = Consumer::new(nats, consumer_config, handler, metrics.clone());

        let listener = faas_provider::server::bind(SocketAddr::from(([0, 0, 0, 0], config.port)))
            .map_err(StartupError::Bind)?;
        let port = listener.local_addr().map_err(StartupError::Bind)?.port();
        let health: Health = Arc::new(consumer.health());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(metrics.clone()))
                .app_data(web::Data::new(health.clone()))
                .route("/healthz", web::get().to(healthz))
                .route("/metrics", web::get().to(render_metrics))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .map_err(StartupError::Bind)?
        .run();
        tracing::info!(port, "listening for /healthz and /metrics");
        Ok(Self {
            port,
            server,
            consumer,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Consumes until `shutdown` resolves, drains in-flight calls (bounded by
    /// `shutdown_timeout`), then stops the HTTP listener.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let stop_consumer = CancellationToken::new();
        let stop_server = CancellationToken::new();
        let consumer = tokio::spawn(self.consumer.run(stop_consumer.clone().cancelled_owned()));
        let server = tokio::spawn(faas_provider::server::run_until(
            self.server,
            stop_server.clone().cancelled_owned(),
        ));
        shutdown.await;
        stop_consumer.cancel();
        if let Err(error) = consumer.await {
            tracing::error!(%error, "consumer task failed");
        }
        stop_server.cancel();
        server.await.map_err(std::io::Error::other)?
    }
}

async fn healthz(health: web::Data<Health>) -> HttpResponse {
    if (health.get_ref())() {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::ServiceUnavailable()
            .body("not consuming: NATS unreachable or consumer not bound")
    }
}

async fn render_metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
