//! Builds the application (binds, wires the routes and the idler) and runs it until stopped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use faas_provider::api::require_basic_auth;
use faas_provider::auth::CredentialsError;
use faas_provider::Provider;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::decision::DecisionLog;
use crate::idler::Idler;
use crate::metrics::Metrics;
use crate::prometheus::{PrometheusClient, QueryError};
use crate::routes::{self, DECISIONS_PATH};
use crate::scaler::Scaler;

/// AlertManager groups every function's alerts in one call; leave room for many.
const MAX_ALERT_BODY: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("reading the basic-auth credentials")]
    Credentials(#[from] CredentialsError),
    #[error("faas_prometheus_host/faas_prometheus_port")]
    Prometheus(#[from] QueryError),
    #[error("starting the HTTP server")]
    Bind(#[from] io::Error),
}

pub struct Application {
    port: u16,
    server: Server,
    idler: Option<Idler>,
}

impl Application {
    /// Binds `port` (0 picks a free one) and wires everything; nothing runs until
    /// `run_until_stopped`.
    pub fn build(config: Config, provider: Arc<dyn Provider>) -> Result<Self, StartupError> {
        let credentials = config.credentials()?;
        let metrics = Arc::new(Metrics::new());
        let decisions = Arc::new(DecisionLog::new(config.decision_history, metrics.clone()));
        let scaler = Arc::new(Scaler::new(
            provider,
            config.function_namespace.clone(),
            config.defaults(),
            decisions.clone(),
            metrics.clone(),
        ));
        let idler = if config.reconcile_interval.is_zero() {
            None
        } else {
            let prometheus =
                PrometheusClient::new(&config.prometheus_url(), config.request_timeout)?;
            Some(Idler::new(
                scaler.clone(),
                prometheus,
                metrics.clone(),
                config.reconcile_interval,
            ))
        };

        let listener = faas_provider::server::bind(SocketAddr::from(([0, 0, 0, 0], config.port)))?;
        let port = listener.local_addr()?.port();
        let credentials = web::Data::new(credentials);
        let scaler = web::Data::from(scaler);
        let decisions = web::Data::from(decisions);
        let metrics = web::Data::from(metrics);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::PayloadConfig::new(MAX_ALERT_BODY))
                .app_data(credentials.clone())
                .app_data(scaler.clone())
                .app_data(decisions.clone())
                .app_data(metrics.clone())
                .service(
                    web::scope("/system")
                        .wrap(from_fn(require_basic_auth))
                        .route("/alert", web::post().to(routes::alert))
                        .route(
                            DECISIONS_PATH.trim_start_matches("/system"),
                            web::get().to(routes::decisions),
                        ),
                )
                .route("/metrics", web::get().to(routes::metrics))
                .route("/healthz", web::get().to(faas_provider::server::healthz))
        })
        .listen(listener)?
        .run();
        tracing::info!(
            port,
            idler = idler.is_some(),
            reconcile_interval = ?config.reconcile_interval,
            prometheus = %config.prometheus_url(),
            "alert-scaler listening"
        );
        Ok(Self {
            port,
            server,
            idler,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves and runs the idler until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let (stop_idler, idler_stopped) = oneshot::channel::<()>();
        let idler = self.idler.map(|idler| {
            tokio::spawn(idler.run(async {
                let _ = idler_stopped.await;
            }))
        });
        let result = faas_provider::server::run_until(self.server, shutdown).await;
        let _ = stop_idler.send(());
        if let Some(task) = idler {
            let _ = task.await;
        }
        result
    }
}
