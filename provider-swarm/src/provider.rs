//! `DockerProvider`: the `faas_provider::Provider` over the Docker engine. It validates and
//! maps requests once, then hands them to the backend the engine's state chose.

use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use chrono::Utc;
use faas_provider::types::{
    Endpoint, FunctionDeployment, FunctionStatus, LogRequest, ProviderInfo, ReadyEndpoints, Secret,
    VersionInfo,
};
use faas_provider::{FunctionName, LogStream, Provider, ProviderError};

use crate::config::Config;
use crate::containers::ContainerBackend;
use crate::engine::{self, EngineError, Orchestration};
use crate::logs::{self, Source};
use crate::secrets::FileSecrets;
use crate::spec::FunctionSpec;
use crate::swarm::SwarmBackend;

/// Name reported by `/system/info`.
pub const PROVIDER_NAME: &str = "ironfaas-provider-swarm";

/// What each backend does its own way. Inputs are already validated.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError>;
    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError>;
    async fn deploy(&self, spec: FunctionSpec) -> Result<(), ProviderError>;
    /// Replaces the function's spec without downtime; `created_at` of `spec` is replaced by
    /// the recorded one.
    async fn update(&self, spec: FunctionSpec) -> Result<(), ProviderError>;
    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError>;
    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError>;
    async fn endpoints(&self, name: &FunctionName) -> Result<Vec<Endpoint>, ProviderError>;
    async fn secret_names(&self) -> Result<Vec<String>, ProviderError>;
    async fn create_secret(&self, name: &str, data: &[u8]) -> Result<(), ProviderError>;
    async fn update_secret(&self, name: &str, data: &[u8]) -> Result<(), ProviderError>;
    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError>;
    /// The containers whose logs make up the function's logs.
    async fn log_sources(&self, name: &FunctionName) -> Result<Vec<Source>, ProviderError>;
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot prepare the secret store under data_dir")]
    Secrets(#[source] std::io::Error),
}

pub struct DockerProvider {
    docker: Docker,
    backend: Box<dyn Backend>,
    orchestration: Orchestration,
    namespace: String,
    /// Bounds a followed log stream (the write timeout).
    log_limit: Duration,
}

impl DockerProvider {
    /// Connects to the engine, picks the backend and makes sure the function network exists.
    pub async fn start(config: &Config) -> Result<Self, StartError> {
        let docker = engine::connect().await?;
        let orchestration = engine::choose(&docker, config.backend).await?;
        engine::ensure_network(&docker, &config.function_network, orchestration).await?;
        let backend: Box<dyn Backend> = match orchestration {
            Orchestration::Swarm => Box::new(SwarmBackend::new(docker.clone(), config)),
            Orchestration::Containers => {
                let secrets = FileSecrets::open(&config.data_dir).map_err(StartError::Secrets)?;
                Box::new(ContainerBackend::new(docker.clone(), config, secrets))
            }
        };
        tracing::info!(
            backend = orchestration.as_str(),
            network = %config.function_network,
            namespace = %config.function_namespace,
            "provider ready"
        );
        Ok(Self {
            docker,
            backend,
            orchestration,
            namespace: config.function_namespace.clone(),
            log_limit: config.write_timeout,
        })
    }

    pub fn orchestration(&self) -> Orchestration {
        self.orchestration
    }
}

#[async_trait]
impl Provider for DockerProvider {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        self.backend.list().await
    }

    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        self.backend.get(name).await
    }

    async fn deploy(&self, deployment: FunctionDeployment) -> Result<(), ProviderError> {
        let spec = FunctionSpec::new(deployment, Utc::now())?;
        let name = spec.name().clone();
        self.backend.deploy(spec).await?;
        tracing::info!(function = %name, "deployed");
        Ok(())
    }

    async fn update(&self, deployment: FunctionDeployment) -> Result<(), ProviderError> {
        let spec = FunctionSpec::new(deployment, Utc::now())?;
        let name = spec.name().clone();
        self.backend.update(spec).await?;
        tracing::info!(function = %name, "updated");
        Ok(())
    }

    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError> {
        self.backend.delete(name).await?;
        tracing::info!(function = %name, "deleted");
        Ok(())
    }

    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError> {
        self.backend.scale(name, replicas).await
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<ReadyEndpoints, ProviderError> {
        Ok(ReadyEndpoints {
            name: name.clone(),
            namespace: self.namespace.clone(),
            endpoints: self.backend.endpoints(name).await?,
        })
    }

    async fn list_secrets(&self) -> Result<Vec<Secret>, ProviderError> {
        Ok(self
            .backend
            .secret_names()
            .await?
            .into_iter()
            .map(|name| Secret {
                name,
                namespace: self.namespace.clone(),
                ..Default::default()
            })
            .collect())
    }

    async fn create_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        let data = secret.data().unwrap_or_default();
        self.backend.create_secret(&secret.name, &data).await
    }

    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError> {
        let data = secret.data().unwrap_or_default();
        self.backend.update_secret(&secret.name, &data).await
    }

    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError> {
        self.backend.delete_secret(name).await
    }

    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError> {
        let sources = self.backend.log_sources(&request.name).await?;
        let sources = logs::select(sources, request.instance.as_deref());
        logs::read(
            &self.docker,
            sources,
            &request,
            &self.namespace,
            self.log_limit,
        )
        .await
    }

    async fn namespaces(&self) -> Result<Vec<String>, ProviderError> {
        Ok(vec![self.namespace.clone()])
    }

    async fn info(&self) -> Result<ProviderInfo, ProviderError> {
        Ok(ProviderInfo {
            provider: PROVIDER_NAME.to_owned(),
            version: VersionInfo {
                sha: option_env!("GIT_SHA").unwrap_or("dev").to_owned(),
                release: env!("CARGO_PKG_VERSION").to_owned(),
                ..Default::default()
            },
            orchestration: self.orchestration.as_str().to_owned(),
        })
    }

    async fn health(&self) -> Result<(), ProviderError> {
        self.docker.ping().await.map(drop).map_err(|e| {
            ProviderError::Unavailable(format!("the Docker engine does not answer: {e}"))
        })
    }
}
