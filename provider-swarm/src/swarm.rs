//! The swarm backend: one Swarm service per function. Replicas are the service's replica
//! count; an update is a start-first rolling update; ready replicas are tasks meant to run
//! and running (Swarm holds a task in `starting` until the image's HEALTHCHECK passes).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{Service, Task, TaskState};
use bollard::query_parameters::{
    InspectNetworkOptions, InspectServiceOptions, ListServicesOptions, ListTasksOptions,
    UpdateServiceOptions,
};
use bollard::Docker;
use faas_provider::types::{Endpoint, FunctionStatus};
use faas_provider::{FunctionName, ProviderError};

use crate::config::Config;
use crate::engine;
use crate::logs::Source;
use crate::provider::Backend;
use crate::secrets::{SwarmSecrets, Version};
use crate::spec::{self, FunctionSpec, FUNCTION_LABEL, NETWORK_SCOPE_LABEL};

/// Swarm rejects concurrent updates of one service ("update out of sequence"); retried.
const UPDATE_ATTEMPTS: usize = 5;
/// How long the provider keeps trying to remove a secret's replaced versions.
const OLD_SECRET_GRACE: Duration = Duration::from_secs(300);

pub struct SwarmBackend {
    docker: Docker,
    network: String,
    namespace: String,
    watchdog_port: u16,
    secrets: SwarmSecrets,
}

fn not_found(name: &FunctionName) -> ProviderError {
    ProviderError::FunctionNotFound(name.to_string())
}

fn filters(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        map.entry((*k).to_owned())
            .or_default()
            .push((*v).to_owned());
    }
    map
}

/// A function of this provider: labelled as a function on our network.
fn is_function(service: &Service, network: &str) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.labels.as_ref())
        .is_some_and(|l| {
            l.contains_key(FUNCTION_LABEL)
                && l.get(NETWORK_SCOPE_LABEL).map(String::as_str) == Some(network)
        })
}

fn desired_replicas(service: &Service) -> u64 {
    service
        .spec
        .as_ref()
        .and_then(|s| s.mode.as_ref())
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas)
        .and_then(|r| u64::try_from(r).ok())
        .unwrap_or(0)
}

fn is_running(task: &Task) -> bool {
    task.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
}

fn out_of_sequence(e: &ProviderError) -> bool {
    e.to_string().contains("out of sequence")
}

impl SwarmBackend {
    pub fn new(docker: Docker, config: &Config) -> Self {
        Self {
            secrets: SwarmSecrets::new(docker.clone()),
            docker,
            network: config.function_network.clone(),
            namespace: config.function_namespace.clone(),
            watchdog_port: config.watchdog_port,
        }
    }

    /// The service of a function; services that are not functions do not exist here.
    async fn service(&self, name: &FunctionName) -> Result<Service, ProviderError> {
        match self
            .docker
            .inspect_service(name.as_str(), None::<InspectServiceOptions>)
            .await
        {
            Ok(s) if is_function(&s, &self.network) => Ok(s),
            Ok(_) => Err(not_found(name)),
            Err(e) if engine::is_not_found(&e) => Err(not_found(name)),
            Err(e) => Err(engine::error(format_args!("inspect service {name}"), e)),
        }
    }

    /// Tasks that count as ready: meant to run and running. During a rolling update that
    /// includes the old spec's tasks until Swarm replaces them (it marks them for shutdown
    /// only once their successor runs), so there is always a ready endpoint.
    async fn ready_tasks(&self, service: Option<&str>) -> Result<Vec<Task>, ProviderError> {
        let mut f = vec![("desired-state", "running")];
        if let Some(s) = service {
            f.push(("service", s));
        }
        let tasks = self
            .docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters(&f)),
            }))
            .await
            .map_err(|e| engine::error("list tasks", e))?;
        Ok(tasks.into_iter().filter(is_running).collect())
    }

    fn status(&self, service: &Service) -> Result<FunctionStatus, ProviderError> {
        let labels = service
            .spec
            .as_ref()
            .and_then(|s| s.labels.clone())
            .unwrap_or_default();
        let mut status = spec::status_from_labels(&labels, &self.namespace).map_err(|e| {
            ProviderError::Internal(format!(
                "service {} is not a readable function: {e}",
                service
                    .spec
                    .as_ref()
                    .and_then(|s| s.name.as_deref())
                    .unwrap_or("?")
            ))
        })?;
        status.replicas = desired_replicas(service);
        Ok(status)
    }

    /// The services of this provider's functions.
    async fn function_services(&self) -> Result<Vec<Service>, ProviderError> {
        let services = self
            .docker
            .list_services(Some(ListServicesOptions {
                filters: Some(filters(&[(
                    "label",
                    &format!("{NETWORK_SCOPE_LABEL}={}", self.network),
                )])),
                ..Default::default()
            }))
            .await
            .map_err(|e| engine::error("list services", e))?;
        Ok(services
            .into_iter()
            .filter(|s| is_function(s, &self.network))
            .collect())
    }

    /// Writes `spec` over the service's current version, retrying when another update won.
    async fn write(
        &self,
        name: &FunctionName,
        change: impl Fn(&Service) -> Result<bollard::models::ServiceSpec, ProviderError> + Send + Sync,
        credentials: Option<bollard::auth::DockerCredentials>,
    ) -> Result<(), ProviderError> {
        let mut last = None;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.service(name).await?;
            let version = current
                .version
                .as_ref()
                .and_then(|v| v.index)
                .and_then(|i| i32::try_from(i).ok())
                .unwrap_or_default();
            let options = UpdateServiceOptions {
                version,
                ..Default::default()
            };
            let result = self
                .docker
                .update_service(
                    name.as_str(),
                    change(&current)?,
                    options,
                    credentials.clone(),
                )
                .await;
            match result {
                Ok(r) => {
                    for warning in r.warnings.unwrap_or_default() {
                        tracing::warn!(function = %name, %warning, "service update warning");
                    }
                    return Ok(());
                }
                Err(e) => {
                    let err = engine::error(format_args!("update service {name}"), e);
                    if !out_of_sequence(&err) {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| not_found(name)))
    }
}

#[async_trait]
impl Backend for SwarmBackend {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        let services = self.function_services().await?;
        let mut ready: HashMap<String, u64> = HashMap::new();
        for task in self.ready_tasks(None).await? {
            *ready
                .entry(task.service_id.unwrap_or_default())
                .or_default() += 1;
        }
        let mut out = Vec::new();
        for service in &services {
            match self.status(service) {
                Ok(mut status) => {
                    status.available_replicas = service
                        .id
                        .as_ref()
                        .and_then(|id| ready.get(id))
                        .copied()
                        .unwrap_or(0);
                    out.push(status);
                }
                Err(e) => tracing::warn!(error = %e, "skipping a service"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        let service = self.service(name).await?;
        let mut status = self.status(&service)?;
        status.available_replicas = self.ready_tasks(Some(name.as_str())).await?.len() as u64;
        Ok(status)
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<(), ProviderError> {
        let d = &spec.deployment;
        engine::ensure_image(&self.docker, &d.image, spec.credentials.clone()).await?;
        let secrets = self.secrets.resolve(&d.secrets).await?;
        let service = spec.service_spec(&self.network, &secrets, spec.initial_replicas());
        match self
            .docker
            .create_service(service, spec.credentials.clone())
            .await
        {
            Ok(r) => {
                if let Some(w) = r.warnings.filter(|w| !w.is_empty()) {
                    tracing::warn!(function = %d.service, warnings = ?w, "service create warnings");
                }
                Ok(())
            }
            Err(e) if engine::status(&e) == Some(409) => {
                Err(ProviderError::FunctionExists(d.service.to_string()))
            }
            Err(e) => Err(engine::create_error(
                format_args!("create service {}", d.service),
                &d.image,
                e,
            )),
        }
    }

    async fn update(&self, mut spec: FunctionSpec) -> Result<(), ProviderError> {
        let name = spec.name().clone();
        let current = self.service(&name).await?;
        if let Some(created) = current
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(spec::created_at)
        {
            spec.created_at = created;
        }
        let d = &spec.deployment;
        engine::ensure_image(&self.docker, &d.image, spec.credentials.clone()).await?;
        let secrets = self.secrets.resolve(&d.secrets).await?;
        // faas-swarm resets replicas to the minimum on every update (CONTRACT.md §11.10).
        let new = spec.service_spec(&self.network, &secrets, spec.initial_replicas());
        self.write(&name, |_| Ok(new.clone()), spec.credentials.clone())
            .await
    }

    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError> {
        let service = self.service(name).await?;
        let id = service.id.unwrap_or_else(|| name.to_string());
        match self.docker.delete_service(&id).await {
            Ok(()) => Ok(()),
            Err(e) if engine::is_not_found(&e) => Err(not_found(name)),
            Err(e) => Err(engine::error(format_args!("remove service {name}"), e)),
        }
    }

    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError> {
        self.write(
            name,
            |current| {
                let mut spec = current.spec.clone().unwrap_or_default();
                let mode = spec.mode.get_or_insert_with(Default::default);
                let replicated = mode.replicated.as_mut().ok_or_else(|| {
                    ProviderError::Invalid(format!("service {name} is not replicated"))
                })?;
                replicated.replicas = Some(spec::clamp_i64(replicas));
                Ok(spec)
            },
            None,
        )
        .await
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<Vec<Endpoint>, ProviderError> {
        self.service(name).await?;
        let tasks = self.ready_tasks(Some(name.as_str())).await?;
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        // The network's container list carries each local task container's address.
        let network = self
            .docker
            .inspect_network(&self.network, None::<InspectNetworkOptions>)
            .await
            .map_err(|e| engine::error(format_args!("inspect network {}", self.network), e))?;
        let containers = network.containers.unwrap_or_default();
        let mut out: Vec<Endpoint> = tasks
            .iter()
            .filter_map(|t| {
                let container = t
                    .status
                    .as_ref()?
                    .container_status
                    .as_ref()?
                    .container_id
                    .as_ref()?;
                let address = containers.get(container)?.ipv4_address.as_deref()?;
                let ip = address.split('/').next()?;
                Some(Endpoint {
                    address: format!("{ip}:{}", self.watchdog_port),
                    instance: t.id.clone()?,
                })
            })
            .collect();
        out.sort_by(|a, b| a.instance.cmp(&b.instance));
        Ok(out)
    }

    async fn secret_names(&self) -> Result<Vec<String>, ProviderError> {
        self.secrets.names().await
    }

    async fn create_secret(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        self.secrets.create(name, data).await
    }

    /// Swarm secrets are immutable: a new version is created, every function mounting the
    /// secret is rolled onto it (start-first, like any update), and the old versions are
    /// removed once no task uses them.
    async fn update_secret(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        let (new, old) = self.secrets.new_version(name, data).await?;
        let old_ids: HashSet<String> = old.iter().map(|v| v.id.clone()).collect();
        for service in self.function_services().await? {
            let uses = service
                .spec
                .as_ref()
                .and_then(|s| s.task_template.as_ref())
                .and_then(|t| t.container_spec.as_ref())
                .and_then(|c| c.secrets.as_ref())
                .is_some_and(|refs| {
                    refs.iter()
                        .any(|r| r.secret_id.as_ref().is_some_and(|id| old_ids.contains(id)))
                });
            let Some(function) = service
                .spec
                .as_ref()
                .and_then(|s| s.name.as_deref())
                .and_then(|n| FunctionName::parse(n).ok())
            else {
                continue;
            };
            if !uses {
                continue;
            }
            self.write(
                &function,
                |current| {
                    let mut spec = current.spec.clone().unwrap_or_default();
                    let refs = spec
                        .task_template
                        .as_mut()
                        .and_then(|t| t.container_spec.as_mut())
                        .and_then(|c| c.secrets.as_mut());
                    for r in refs.into_iter().flatten() {
                        if r.secret_id.as_ref().is_some_and(|id| old_ids.contains(id)) {
                            r.secret_id = Some(new.id.clone());
                            r.secret_name = Some(new.docker_name.clone());
                        }
                    }
                    Ok(spec)
                },
                None,
            )
            .await?;
        }
        let owned: Vec<Version> = old.into_iter().filter(|v| v.owned).collect();
        let secrets = self.secrets.clone();
        let name = name.to_owned();
        // Tasks of the old spec hold the old version until they stop.
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + OLD_SECRET_GRACE;
            loop {
                match secrets.remove(&owned).await {
                    Ok(()) => return,
                    Err(e) if tokio::time::Instant::now() >= deadline => {
                        tracing::warn!(secret = %name, error = %e, "old secret versions are still in use; left in place");
                        return;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        });
        Ok(())
    }

    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError> {
        self.secrets.delete(name).await
    }

    async fn log_sources(&self, name: &FunctionName) -> Result<Vec<Source>, ProviderError> {
        self.service(name).await?;
        let tasks = self
            .docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(filters(&[("service", name.as_str())])),
            }))
            .await
            .map_err(|e| engine::error("list tasks", e))?;
        Ok(tasks
            .into_iter()
            .filter_map(|t| {
                Some(Source {
                    container_id: t.status?.container_status?.container_id?,
                    instance: t.id?,
                })
            })
            .collect())
    }
}
