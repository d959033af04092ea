//! The `Provider` trait: what a function backend does, whatever runs the functions.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::ProviderError;
use crate::name::FunctionName;
use crate::types::{
    FunctionDeployment, FunctionStatus, LogMessage, LogRequest, ProviderInfo, ReadyEndpoints,
    Secret,
};

pub type LogStream = BoxStream<'static, Result<LogMessage, ProviderError>>;

/// A provider serves one namespace (`openfaas-fn` by default); the API layer checks the
/// namespace clients name, so methods here take none.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError>;
    /// One function with `availableReplicas` counted.
    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError>;
    /// Creates a function; `FunctionExists` if it is there already.
    async fn deploy(&self, deployment: FunctionDeployment) -> Result<(), ProviderError>;
    /// Replaces a function's spec; `FunctionNotFound` if it is not there (faas-cli then POSTs).
    async fn update(&self, deployment: FunctionDeployment) -> Result<(), ProviderError>;
    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError>;
    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError>;
    /// The addresses of the replicas that are running and ready now.
    async fn endpoints(&self, name: &FunctionName) -> Result<ReadyEndpoints, ProviderError>;
    /// Names only; values are never returned.
    async fn list_secrets(&self) -> Result<Vec<Secret>, ProviderError>;
    async fn create_secret(&self, secret: Secret) -> Result<(), ProviderError>;
    async fn update_secret(&self, secret: Secret) -> Result<(), ProviderError>;
    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError>;
    async fn logs(&self, request: LogRequest) -> Result<LogStream, ProviderError>;
    async fn namespaces(&self) -> Result<Vec<String>, ProviderError>;
    async fn info(&self) -> Result<ProviderInfo, ProviderError>;
    /// Whether the provider can reach its backend.
    async fn health(&self) -> Result<(), ProviderError>;
}
