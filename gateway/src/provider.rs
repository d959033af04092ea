//! `GatewayProvider`: the provider as the gateway serves it on `/system/*` — statuses carry the
//! namespace and Prometheus invocation counts, logs come from `logs_provider_url` and end at
//! `write_timeout`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use faas_provider::types::{
    FunctionDeployment, FunctionStatus, LogRequest, ProviderInfo, ReadyEndpoints, Secret,
};
use faas_provider::{FunctionName, LogStream, Provider, ProviderError};
use futures::StreamExt;

use crate::error::chain;
use crate::prometheus::{count_for, InvocationCounts};

pub struct GatewayProvider {
    inner: Arc<dyn Provider>,
    logs: Arc<dyn Provider>,
    counts: InvocationCounts,
    namespace: String,
    /// How long a log stream (`follow=true`) may last, as OpenFaaS bounds it by `write_timeout`.
    log_deadline: Duration,
}

impl GatewayProvider {
    pub fn new(
        inner: Arc<dyn Provider>,
        logs: Arc<dyn Provider>,
        counts: InvocationCounts,
        namespace: String,
        log_deadline: Duration,
    ) -> Self {
        Self {
            inner,
            logs,
            counts,
            namespace,
            log_deadline,
        }
    }

    fn fill_namespace(&self, status: &mut FunctionStatus) {
        if status.namespace.is_empty() {
            status.namespace.clone_from(&self.namespace);
        }
    }
}

#[async_trait]
impl Provider for GatewayProvider {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        let mut list = self.inner.list().await?;
        for s in &mut list {
            self.fill_namespace(s);
        }
        if list.is_empty() {
            return Ok(list);
        }
        // Listing must work without Prometheus (OpenFaaS@HEAD panics here instead).
        match self.counts.fetch().await {
            Ok(counts) => {
                for s in &mut list {
                    s.invocation_count = count_for(&counts, s.name.as_str(), &s.namespace);
                }
            }
            Err(e) => {
                tracing::warn!(error = %chain(&e), "invocation counts unavailable; listing them as 0");
                for s in &mut list {
                    s.invocation_count = 0.0;
                }
            }
        }
        Ok(list)
    }

    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        let mut s = self.inner.get(name).await?;
        self.fill_namespace(&mut s);
        Ok(s)
    }

    async fn deploy(&self, d: FunctionDeployment) -> Result<(), ProviderError> {
        self.inner.deploy(d).await
    }

    async fn update(&self, d: FunctionDeployment) -> Result<(), ProviderError> {
        self.inner.update(d).await
    }

    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError> {
        self.inner.delete(name).await
    }

    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError> {
        self.inner.scale(name, replicas).await
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<ReadyEndpoints, ProviderError> {
        self.inner.endpoints(name).await
    }

    async fn list_secrets(&self) -> Result<Vec<Secret>, ProviderError> {
        self.inner.list_secrets().await
    }

    async fn create_secret(&self, s: Secret) -> Result<(), ProviderError> {
        self.inner.create_secret(s).await
    }

    async fn update_secret(&self, s: Secret) -> Result<(), ProviderError> {
        self.inner.update_secret(s).await
    }

    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError> {
        self.inner.delete_secret(name).await
    }

    async fn logs(&self, r: LogRequest) -> Result<LogStream, ProviderError> {
        let stream = self.logs.logs(r).await?;
        Ok(stream
            .take_until(tokio::time::sleep(self.log_deadline))
            .boxed())
    }

    /// Providers without namespaces (faas-swarm answers `[]`) still serve ours.
    async fn namespaces(&self) -> Result<Vec<String>, ProviderError> {
        let list = self.inner.namespaces().await?;
        if list.is_empty() {
            return Ok(vec![self.namespace.clone()]);
        }
        Ok(list)
    }

    async fn info(&self) -> Result<ProviderInfo, ProviderError> {
        self.inner.info().await
    }

    async fn health(&self) -> Result<(), ProviderError> {
        self.inner.health().await
    }
}
