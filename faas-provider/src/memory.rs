//! `InMemoryProvider`: a `Provider` kept in memory, for unit tests of the layers above it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;

use crate::error::ProviderError;
use crate::name::FunctionName;
use crate::provider::{LogStream, Provider};
use crate::types::{
    Endpoint, FunctionDeployment, FunctionStatus, LogMessage, LogRequest, ProviderInfo,
    ReadyEndpoints, Secret, VersionInfo,
};

pub const SCALE_MIN_LABEL: &str = "com.openfaas.scale.min";

#[derive(Default)]
struct Function {
    deployment: FunctionDeployment,
    replicas: u64,
    created_at: Option<chrono::DateTime<Utc>>,
    /// Addresses tests registered; served as endpoints while replicas > 0.
    upstreams: Vec<String>,
    logs: Vec<LogMessage>,
}

#[derive(Default)]
struct State {
    functions: BTreeMap<FunctionName, Function>,
    secrets: BTreeMap<String, Vec<u8>>,
    scale_calls: u64,
}

/// Replicas are ready the moment they are asked for.
#[derive(Clone)]
pub struct InMemoryProvider {
    namespace: String,
    state: Arc<Mutex<State>>,
}

impl InMemoryProvider {
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Points a function's replicas at `addresses` (`host:port` of test servers).
    pub fn set_upstreams(&self, name: &FunctionName, addresses: Vec<String>) {
        if let Some(f) = self.lock().functions.get_mut(name) {
            f.upstreams = addresses;
        }
    }

    pub fn push_log(&self, name: &FunctionName, text: &str) {
        let namespace = self.namespace.clone();
        if let Some(f) = self.lock().functions.get_mut(name) {
            f.logs.push(LogMessage {
                name: name.to_string(),
                namespace,
                instance: format!("{name}-1"),
                timestamp: Utc::now(),
                text: text.to_owned(),
            });
        }
    }

    /// How many scale calls were made, to check that concurrent cold starts scale once.
    pub fn scale_calls(&self) -> u64 {
        self.lock().scale_calls
    }

    fn status(&self, name: &FunctionName, f: &Function) -> FunctionStatus {
        let d = &f.deployment;
        FunctionStatus {
            name: name.clone(),
            image: d.image.clone(),
            replicas: f.replicas,
            available_replicas: f.replicas,
            env_process: d.env_process.clone(),
            labels: d.labels.clone(),
            annotations: d.annotations.clone(),
            namespace: self.namespace.clone(),
            env_vars: d.env_vars.clone(),
            constraints: d.constraints.clone(),
            secrets: d.secrets.clone(),
            limits: d.limits.clone(),
            requests: d.requests.clone(),
            read_only_root_filesystem: d.read_only_root_filesystem,
            created_at: f.created_at,
            ..Default::default()
        }
    }

    fn check_secrets(state: &State, d: &FunctionDeployment) -> Result<(), ProviderError> {
        match d.secrets.iter().find(|s| !state.secrets.contains_key(*s)) {
            Some(missing) => Err(ProviderError::Invalid(format!(
                "secret {missing} not found; create it first"
            ))),
            None => Ok(()),
        }
    }
}

fn min_replicas(d: &FunctionDeployment) -> u64 {
    d.labels
        .get(SCALE_MIN_LABEL)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn not_found(name: &FunctionName) -> ProviderError {
    ProviderError::FunctionNotFound(name.to_string())
}

#[async_trait]
impl Provider for InMemoryProvider {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        let state = self.lock();
        Ok(state
            .functions
            .iter()
            .map(|(n, f)| self.status(n, f))
            .collect())
    }

    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        let state = self.lock();
        let f = state.functions.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.status(name, f))
    }

    async fn deploy(&self, d: FunctionDeployment) -> Result<(), ProviderError> {
        let mut state = self.lock();
        if state.functions.contains_key(&d.service) {
            return Err(ProviderError::FunctionExists(d.service.to_string()));
        }
        Self::check_secrets(&state, &d)?;
        let f = Function {
            replicas: min_replicas(&d),
            created_at: Some(Utc::now()),
            deployment: d.clone(),
            ..Default::default()
        };
        state.functions.insert(d.service, f);
        Ok(())
    }

    async fn update(&self, d: FunctionDeployment) -> Result<(), ProviderError> {
        let mut state = self.lock();
        Self::check_secrets(&state, &d)?;
        let f = state
            .functions
            .get_mut(&d.service)
            .ok_or_else(|| not_found(&d.service))?;
        f.replicas = min_replicas(&d);
        f.deployment = d;
        Ok(())
    }

    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError> {
        self.lock()
            .functions
            .remove(name)
            .map(drop)
            .ok_or_else(|| not_found(name))
    }

    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError> {
        let mut state = self.lock();
        state.scale_calls += 1;
        let f = state
            .functions
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        f.replicas = replicas;
        Ok(())
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<ReadyEndpoints, ProviderError> {
        let state = self.lock();
        let f = state.functions.get(name).ok_or_else(|| not_found(name))?;
        let endpoints = if f.replicas == 0 {
            Vec::new()
        } else {
            f.upstreams
                .iter()
                .enumerate()
                .map(|(i, a)| Endpoint {
                    address: a.clone(),
                    instance: format!("{name}-{}", i + 1),
                })
                .collect()
        };
        Ok(ReadyEndpoints {
            name: name.clone(),
            namespace: self.namespace.clone(),
            endpoints,
        })
    }

    async fn list_secrets(&self) -> Result<Vec<Secret>, ProviderError> {
        Ok(self
            .lock()
            .secrets
            .keys()
            .map(|name| Secret {
                name: name.clone(),
                namespace: self.namespace.clone(),
                ..Default::default()
            })
            .collect())
    }

    async fn create_secret(&self, s: Secret) -> Result<(), ProviderError> {
        let mut state = self.lock();
        if state.secrets.contains_key(&s.name) {
            return Err(ProviderError::SecretExists(s.name));
        }
        let data = s.data().unwrap_or_default();
        state.secrets.insert(s.name, data);
        Ok(())
    }

    async fn update_secret(&self, s: Secret) -> Result<(), ProviderError> {
        let mut state = self.lock();
        match state.secrets.get_mut(&s.name) {
            Some(v) => {
                *v = s.data().unwrap_or_default();
                Ok(())
            }
            None => Err(ProviderError::SecretNotFound(s.name)),
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError> {
        self.lock()
            .secrets
            .remove(name)
            .map(drop)
            .ok_or_else(|| ProviderError::SecretNotFound(name.to_owned()))
    }

    async fn logs(&self, r: LogRequest) -> Result<LogStream, ProviderError> {
        let state = self.lock();
        let f = state
            .functions
            .get(&r.name)
            .ok_or_else(|| not_found(&r.name))?;
        let mut lines: Vec<LogMessage> = f
            .logs
            .iter()
            .filter(|m| r.since.is_none_or(|since| m.timestamp >= since))
            .cloned()
            .collect();
        if let Some(tail) = r.tail {
            let skip = lines
                .len()
                .saturating_sub(usize::try_from(tail).unwrap_or(usize::MAX));
            lines.drain(..skip);
        }
        Ok(futures::stream::iter(lines.into_iter().map(Ok)).boxed())
    }

    async fn namespaces(&self) -> Result<Vec<String>, ProviderError> {
        Ok(vec![self.namespace.clone()])
    }

    async fn info(&self) -> Result<ProviderInfo, ProviderError> {
        Ok(ProviderInfo {
            provider: "in-memory".into(),
            version: VersionInfo {
                sha: "test".into(),
                release: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            },
            orchestration: "memory".into(),
        })
    }

    async fn health(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}
