//! `Application`: binds the listener and serves the provider API over a `Provider`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use actix_web::{App, HttpServer};
use faas_provider::api::{self, ApiConfig};
use faas_provider::Provider;

use crate::config::Config;

pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    /// Binds `port` (0 picks a free one) and prepares the server; nothing is served until
    /// `run_until_stopped`.
    pub fn build(config: Config, provider: Arc<dyn Provider>) -> anyhow::Result<Self> {
        let credentials = config.credentials()?;
        let listener =
            faas_provider::server::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.port)))?;
        let port = listener.local_addr()?.port();
        let api_config = ApiConfig {
            namespace: config.function_namespace.clone(),
            credentials,
        };
        let server = HttpServer::new(move || {
            App::new().configure(api::configure(provider.clone(), api_config.clone()))
        })
        .client_request_timeout(config.read_timeout)
        .keep_alive(actix_web::http::KeepAlive::Timeout(config.write_timeout))
        .shutdown_timeout(config.write_timeout.as_secs().max(1))
        .listen(listener)?
        .run();
        tracing::info!(port, "provider API listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        faas_provider::server::run_until(self.server, shutdown).await
    }
}
