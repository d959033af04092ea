//! Spawns the provider API in-process on port 0 and a client pointed at it.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer};
use async_trait::async_trait;
use faas_provider::api::{self, ApiConfig};
use faas_provider::auth::Credentials;
use faas_provider::client::HttpProvider;
use faas_provider::types::*;
use faas_provider::{FunctionName, LogStream, Provider, ProviderError, DEFAULT_NAMESPACE};
use tokio::sync::oneshot;

pub struct TestApi {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestApi {
    pub fn client(&self, credentials: Option<Credentials>) -> HttpProvider {
        HttpProvider::new(&self.url, credentials, Duration::from_secs(5)).expect("client")
    }
}

pub fn spawn_api(provider: Arc<dyn Provider>, credentials: Option<Credentials>) -> TestApi {
    let config = ApiConfig {
        namespace: DEFAULT_NAMESPACE.into(),
        credentials,
    };
    let listener = faas_provider::server::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().configure(api::configure(provider.clone(), config.clone()))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(faas_provider::server::run_until(server, async {
        let _ = rx.await;
    }));
    TestApi {
        url: format!("http://127.0.0.1:{port}/"),
        stop: Some(tx),
    }
}

/// A provider whose every operation fails with one error.
pub struct Failing(pub ProviderError);

#[async_trait]
impl Provider for Failing {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        Err(self.0.clone())
    }
    async fn get(&self, _: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        Err(self.0.clone())
    }
    async fn deploy(&self, _: FunctionDeployment) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn update(&self, _: FunctionDeployment) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn delete(&self, _: &FunctionName) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn scale(&self, _: &FunctionName, _: u64) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn endpoints(&self, _: &FunctionName) -> Result<ReadyEndpoints, ProviderError> {
        Err(self.0.clone())
    }
    async fn list_secrets(&self) -> Result<Vec<Secret>, ProviderError> {
        Err(self.0.clone())
    }
    async fn create_secret(&self, _: Secret) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn update_secret(&self, _: Secret) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn delete_secret(&self, _: &str) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
    async fn logs(&self, _: LogRequest) -> Result<LogStream, ProviderError> {
        Err(self.0.clone())
    }
    async fn namespaces(&self) -> Result<Vec<String>, ProviderError> {
        Err(self.0.clone())
    }
    async fn info(&self) -> Result<ProviderInfo, ProviderError> {
        Err(self.0.clone())
    }
    async fn health(&self) -> Result<(), ProviderError> {
        Err(self.0.clone())
    }
}
