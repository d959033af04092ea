//! The containers backend: plain containers, one per replica, on a user-defined bridge.
//!
//! Each function has a *record*: a container that is created but never started, whose labels
//! hold the deployment and its generation (the engine stays the only source of truth).
//! Replicas are labelled with the function, the generation and an index. An update starts
//! the next generation, waits until it is ready, switches the record, and only then drains
//! and stops the previous generation, so no call is dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum, HostConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;
use faas_provider::types::{Endpoint, FunctionStatus};
use faas_provider::{FunctionName, ProviderError};
use futures::future::join_all;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::engine;
use crate::logs::Source;
use crate::provider::Backend;
use crate::secrets::FileSecrets;
use crate::spec::{self, FunctionSpec, FUNCTION_LABEL, NETWORK_SCOPE_LABEL};

/// `record` or `replica`.
pub const ROLE_LABEL: &str = "com.ironfaas.role";
pub const GENERATION_LABEL: &str = "com.ironfaas.generation";
pub const REPLICA_LABEL: &str = "com.ironfaas.replica";
const RECORD: &str = "record";
const REPLICA: &str = "replica";
/// The watchdog's readiness path.
pub const HEALTH_PATH: &str = "/_/health";
/// How often an update checks whether its new replicas are ready.
const READY_POLL: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct ContainerBackend {
    inner: Arc<Inner>,
}

struct Inner {
    docker: Docker,
    network: String,
    namespace: String,
    watchdog_port: u16,
    secrets: FileSecrets,
    ready_timeout: Duration,
    drain_delay: Duration,
    stop_grace: Duration,
    http: reqwest::Client,
    /// One lock per function: deploy, update, scale and delete of a function never interleave.
    locks: StdMutex<HashMap<FunctionName, Arc<Mutex<()>>>>,
    /// Replicas taken out of service and waiting to be stopped.
    retiring: StdMutex<HashSet<String>>,
}

/// A replica container as listed.
#[derive(Clone, Debug)]
struct Replica {
    id: String,
    generation: u64,
    index: u64,
    running: bool,
    unhealthy: bool,
    ip: Option<String>,
}

/// A function's record and replicas.
#[derive(Debug)]
struct Function {
    record_id: String,
    labels: HashMap<String, String>,
    generation: u64,
    /// Old records left by an interrupted update.
    stale_records: Vec<String>,
    replicas: Vec<Replica>,
}

fn not_found(name: &FunctionName) -> ProviderError {
    ProviderError::FunctionNotFound(name.to_string())
}

fn label_u64(labels: &HashMap<String, String>, key: &str) -> u64 {
    labels.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A record container: generation, id, labels.
type RecordEntry = (u64, String, HashMap<String, String>);

/// The replica/record view of listed containers, per function.
fn group(containers: Vec<ContainerSummary>, network: &str) -> HashMap<String, Function> {
    let mut records: HashMap<String, Vec<RecordEntry>> = HashMap::new();
    let mut replicas: HashMap<String, Vec<Replica>> = HashMap::new();
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        let (Some(function), Some(id)) = (labels.get(FUNCTION_LABEL).cloned(), c.id) else {
            continue;
        };
        let generation = label_u64(&labels, GENERATION_LABEL);
        match labels.get(ROLE_LABEL).map(String::as_str) {
            Some(RECORD) => records
                .entry(function)
                .or_default()
                .push((generation, id, labels)),
            Some(REPLICA) => {
                let ip = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .and_then(|mut n| n.remove(network))
                    .and_then(|e| e.ip_address)
                    .filter(|ip| !ip.is_empty());
                replicas.entry(function).or_default().push(Replica {
                    id,
                    generation,
                    index: label_u64(&labels, REPLICA_LABEL),
                    running: c.state == Some(ContainerSummaryStateEnum::RUNNING),
                    unhealthy: c.status.unwrap_or_default().contains("(unhealthy)"),
                    ip,
                })
            }
            _ => {}
        }
    }
    records
        .into_iter()
        .filter_map(|(function, mut recs)| {
            recs.sort_by_key(|(g, _, _)| *g);
            let (generation, record_id, labels) = recs.pop()?;
            let mut reps = replicas.remove(&function).unwrap_or_default();
            reps.sort_by_key(|r| (r.generation, r.index));
            Some((
                function,
                Function {
                    record_id,
                    labels,
                    generation,
                    stale_records: recs.into_iter().map(|(_, id, _)| id).collect(),
                    replicas: reps,
                },
            ))
        })
        .collect()
}

impl ContainerBackend {
    pub fn new(docker: Docker, config: &Config, secrets: FileSecrets) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_millis(500))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                docker,
                network: config.function_network.clone(),
                namespace: config.function_namespace.clone(),
                watchdog_port: config.watchdog_port,
                secrets,
                ready_timeout: config.ready_timeout,
                drain_delay: config.drain_delay,
                stop_grace: config.stop_grace,
                http,
                locks: StdMutex::default(),
                retiring: StdMutex::default(),
            }),
        }
    }
}

impl Inner {
    fn lock(&self, name: &FunctionName) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(name.clone()).or_default().clone()
    }

    fn is_retiring(&self, id: &str) -> bool {
        self.retiring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// This provider's function containers (records and replicas), of one function or all.
    async fn functions(
        &self,
        name: Option<&FunctionName>,
    ) -> Result<HashMap<String, Function>, ProviderError> {
        let mut labels = vec![
            ROLE_LABEL.to_owned(),
            format!("{NETWORK_SCOPE_LABEL}={}", self.network),
        ];
        if let Some(n) = name {
            labels.push(format!("{FUNCTION_LABEL}={n}"));
        }
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([("label".to_owned(), labels)])),
                ..Default::default()
            }))
            .await
            .map_err(|e| engine::error("list containers", e))?;
        Ok(group(containers, &self.network))
    }

    async fn function(&self, name: &FunctionName) -> Result<Function, ProviderError> {
        self.functions(Some(name))
            .await?
            .remove(name.as_str())
            .ok_or_else(|| not_found(name))
    }

    /// Replicas of the current generation that are not being retired: the desired ones.
    fn current<'a>(&self, f: &'a Function) -> Vec<&'a Replica> {
        f.replicas
            .iter()
            .filter(|r| r.generation == f.generation && !self.is_retiring(&r.id))
            .collect()
    }

    /// Running, not reported unhealthy, and its watchdog answers `/_/health` with 2xx.
    async fn is_ready(&self, r: &Replica) -> bool {
        let Some(ip) = r.ip.as_deref().filter(|_| r.running && !r.unhealthy) else {
            return false;
        };
        let url = format!("http://{ip}:{}{HEALTH_PATH}", self.watchdog_port);
        matches!(self.http.get(&url).send().await, Ok(res) if res.status().is_success())
    }

    async fn ready<'a>(&self, replicas: &[&'a Replica]) -> Vec<&'a Replica> {
        let checks = join_all(replicas.iter().map(|r| self.is_ready(r))).await;
        replicas
            .iter()
            .zip(checks)
            .filter_map(|(r, ok)| ok.then_some(*r))
            .collect()
    }

    async fn status(&self, f: &Function) -> Result<FunctionStatus, ProviderError> {
        let mut status = spec::status_from_labels(&f.labels, &self.namespace)
            .map_err(|e| ProviderError::Internal(format!("container {}: {e}", f.record_id)))?;
        let current = self.current(f);
        status.replicas = current.len() as u64;
        status.available_replicas = self.ready(&current).await.len() as u64;
        Ok(status)
    }

    fn spec_of(&self, f: &Function) -> Result<FunctionSpec, ProviderError> {
        let deployment = spec::deployment_from_labels(&f.labels)
            .map_err(|e| ProviderError::Internal(format!("container {}: {e}", f.record_id)))?;
        let created = spec::created_at(&f.labels).unwrap_or_else(chrono::Utc::now);
        FunctionSpec::new(deployment, created)
    }

    fn scope_labels(
        &self,
        spec: &FunctionSpec,
        role: &str,
        generation: u64,
    ) -> HashMap<String, String> {
        let mut labels = if role == RECORD {
            spec.record_labels()
        } else {
            spec.labels()
        };
        labels.insert(ROLE_LABEL.to_owned(), role.to_owned());
        labels.insert(GENERATION_LABEL.to_owned(), generation.to_string());
        labels.insert(NETWORK_SCOPE_LABEL.to_owned(), self.network.clone());
        labels
    }

    /// The record: created, never started, holding the deployment in its labels.
    async fn create_record(
        &self,
        spec: &FunctionSpec,
        generation: u64,
    ) -> Result<(), ProviderError> {
        let name = spec.name();
        let body = ContainerCreateBody {
            image: Some(spec.deployment.image.clone()),
            labels: Some(self.scope_labels(spec, RECORD, generation)),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(format!("{name}.record.{generation}")),
            ..Default::default()
        };
        match self.docker.create_container(Some(options), body).await {
            Ok(_) => Ok(()),
            Err(e) if engine::status(&e) == Some(409) => {
                Err(ProviderError::FunctionExists(name.to_string()))
            }
            Err(e) => Err(engine::create_error(
                format_args!("create record of {name}"),
                &spec.deployment.image,
                e,
            )),
        }
    }

    /// Creates and starts replicas `indexes` of `generation`; on failure removes what it made.
    async fn start_replicas(
        &self,
        spec: &FunctionSpec,
        generation: u64,
        indexes: impl Iterator<Item = u64>,
    ) -> Result<Vec<String>, ProviderError> {
        let files = self.secrets.resolve(&spec.deployment.secrets)?;
        let results = join_all(indexes.map(|index| {
            let mut labels = self.scope_labels(spec, REPLICA, generation);
            labels.insert(REPLICA_LABEL.to_owned(), index.to_string());
            let body = spec.container_body(&self.network, &files, labels);
            self.start_one(spec, format!("{}.{generation}.{index}", spec.name()), body)
        }))
        .await;
        let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let started: Vec<String> = ok.into_iter().filter_map(Result::ok).collect();
        if let Some(Err(e)) = failed.into_iter().next() {
            self.remove_now(&started).await;
            return Err(e);
        }
        Ok(started)
    }

    async fn start_one(
        &self,
        spec: &FunctionSpec,
        container_name: String,
        body: ContainerCreateBody,
    ) -> Result<String, ProviderError> {
        let options = CreateContainerOptions {
            name: Some(container_name.clone()),
            ..Default::default()
        };
        let id = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                engine::create_error(
                    format_args!("create {container_name}"),
                    &spec.deployment.image,
                    e,
                )
            })?
            .id;
        if let Err(e) = self
            .docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
        {
            self.remove_now(std::slice::from_ref(&id)).await;
            return Err(engine::error(format_args!("start {container_name}"), e));
        }
        Ok(id)
    }

    async fn remove_now(&self, ids: &[String]) {
        join_all(ids.iter().map(|id| async move {
            let options = RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            };
            match self.docker.remove_container(id, Some(options)).await {
                Ok(()) => {}
                Err(e) if engine::is_not_found(&e) => {}
                Err(e) => tracing::warn!(container = %id, error = %engine::message(&e), "cannot remove container"),
            }
        }))
        .await;
    }

    /// Waits until every one of `ids` is ready, or `ready_timeout`.
    async fn wait_ready(&self, name: &FunctionName, ids: &[String]) -> Result<(), ProviderError> {
        let deadline = tokio::time::Instant::now() + self.ready_timeout;
        let mut last_ready = 0;
        loop {
            let f = self.function(name).await?;
            let new: Vec<&Replica> = f.replicas.iter().filter(|r| ids.contains(&r.id)).collect();
            last_ready = if new.len() == ids.len() {
                self.ready(&new).await.len()
            } else {
                last_ready
            };
            if last_ready == ids.len() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ProviderError::Timeout(format!(
                    "{last_ready} of {} new replicas of {name} were ready after {:?}; the previous version keeps serving",
                    ids.len(),
                    self.ready_timeout
                )));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }
}

/// Takes replicas out of the endpoints now and stops them after the drain delay, in the
/// background, so callers that fetched the endpoints a moment ago still reach them.
fn retire(inner: &Arc<Inner>, ids: Vec<String>) {
    if ids.is_empty() {
        return;
    }
    inner
        .retiring
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(ids.iter().cloned());
    let inner = inner.clone();
    tokio::spawn(async move {
        tokio::time::sleep(inner.drain_delay).await;
        let grace = i32::try_from(inner.stop_grace.as_secs()).unwrap_or(i32::MAX);
        join_all(ids.iter().map(|id| {
            let inner = inner.clone();
            async move {
                let options = StopContainerOptions {
                    t: Some(grace),
                    ..Default::default()
                };
                if let Err(e) = inner.docker.stop_container(id, Some(options)).await {
                    if !engine::is_not_found(&e) && engine::status(&e) != Some(304) {
                        tracing::warn!(container = %id, error = %engine::message(&e), "cannot stop replica");
                    }
                }
            }
        }))
        .await;
        inner.remove_now(&ids).await;
        let mut retiring = inner.retiring.lock().unwrap_or_else(|p| p.into_inner());
        for id in &ids {
            retiring.remove(id);
        }
    });
}

#[async_trait]
impl Backend for ContainerBackend {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        let inner = &self.inner;
        let functions = inner.functions(None).await?;
        let statuses = join_all(functions.values().map(|f| inner.status(f))).await;
        let mut out = Vec::new();
        for s in statuses {
            match s {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!(error = %e, "skipping a function record"),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        let f = self.inner.function(name).await?;
        self.inner.status(&f).await
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<(), ProviderError> {
        let inner = &self.inner;
        let name = spec.name().clone();
        let lock = inner.lock(&name);
        let _guard = lock.lock().await;
        match inner.function(&name).await {
            Ok(_) => return Err(ProviderError::FunctionExists(name.to_string())),
            Err(ProviderError::FunctionNotFound(_)) => {}
            Err(e) => return Err(e),
        }
        engine::ensure_image(
            &inner.docker,
            &spec.deployment.image,
            spec.credentials.clone(),
        )
        .await?;
        // Secrets first: an unknown one must fail before anything is created.
        inner.secrets.resolve(&spec.deployment.secrets)?;
        inner.create_record(&spec, 1).await?;
        if let Err(e) = inner
            .start_replicas(&spec, 1, 0..spec.initial_replicas())
            .await
        {
            if let Ok(f) = inner.function(&name).await {
                let mut ids = vec![f.record_id];
                ids.extend(f.replicas.into_iter().map(|r| r.id));
                inner.remove_now(&ids).await;
            }
            return Err(e);
        }
        Ok(())
    }

    async fn update(&self, mut spec: FunctionSpec) -> Result<(), ProviderError> {
        let inner = &self.inner;
        let name = spec.name().clone();
        let lock = inner.lock(&name);
        let _guard = lock.lock().await;
        let f = inner.function(&name).await?;
        if let Some(created) = spec::created_at(&f.labels) {
            spec.created_at = created;
        }
        engine::ensure_image(
            &inner.docker,
            &spec.deployment.image,
            spec.credentials.clone(),
        )
        .await?;
        inner.secrets.resolve(&spec.deployment.secrets)?;
        let generation = f.generation + 1;
        // faas-swarm resets replicas to the minimum on every update (CONTRACT.md §11.10).
        let started = inner
            .start_replicas(&spec, generation, 0..spec.initial_replicas())
            .await?;
        if let Err(e) = inner.wait_ready(&name, &started).await {
            inner.remove_now(&started).await;
            return Err(e);
        }
        if let Err(e) = inner.create_record(&spec, generation).await {
            inner.remove_now(&started).await;
            return Err(e);
        }
        // From here the endpoints are the new generation's.
        let mut old_records = vec![f.record_id.clone()];
        old_records.extend(f.stale_records.iter().cloned());
        inner.remove_now(&old_records).await;
        let old: Vec<String> = f
            .replicas
            .iter()
            .filter(|r| r.generation < generation && !inner.is_retiring(&r.id))
            .map(|r| r.id.clone())
            .collect();
        retire(inner, old);
        Ok(())
    }

    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError> {
        let inner = &self.inner;
        let lock = inner.lock(name);
        let _guard = lock.lock().await;
        let f = inner.function(name).await?;
        let mut ids = vec![f.record_id];
        ids.extend(f.stale_records);
        ids.extend(f.replicas.into_iter().map(|r| r.id));
        inner.remove_now(&ids).await;
        Ok(())
    }

    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError> {
        let inner = &self.inner;
        let lock = inner.lock(name);
        let _guard = lock.lock().await;
        let f = inner.function(name).await?;
        let current = inner.current(&f);
        let have = current.len() as u64;
        if replicas > have {
            let spec = inner.spec_of(&f)?;
            // Indexes never reused while an old replica of that name may still be stopping.
            let next = f
                .replicas
                .iter()
                .filter(|r| r.generation == f.generation)
                .map(|r| r.index + 1)
                .max()
                .unwrap_or(0);
            inner
                .start_replicas(&spec, f.generation, next..next + (replicas - have))
                .await?;
        } else if replicas < have {
            let surplus = current
                .iter()
                .rev()
                .take((have - replicas) as usize)
                .map(|r| r.id.clone())
                .collect();
            retire(inner, surplus);
        }
        Ok(())
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<Vec<Endpoint>, ProviderError> {
        let inner = &self.inner;
        let f = inner.function(name).await?;
        let current = inner.current(&f);
        Ok(inner
            .ready(&current)
            .await
            .into_iter()
            .filter_map(|r| {
                Some(Endpoint {
                    address: format!("{}:{}", r.ip.as_deref()?, inner.watchdog_port),
                    instance: r.id.clone(),
                })
            })
            .collect())
    }

    async fn secret_names(&self) -> Result<Vec<String>, ProviderError> {
        self.inner.secrets.names().await
    }

    async fn create_secret(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        self.inner.secrets.create(name, data)
    }

    async fn update_secret(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        self.inner.secrets.update(name, data)
    }

    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError> {
        self.inner.secrets.delete(name)
    }

    async fn log_sources(&self, name: &FunctionName) -> Result<Vec<Source>, ProviderError> {
        let f = self.inner.function(name).await?;
        Ok(f.replicas
            .into_iter()
            .map(|r| Source {
                container_id: r.id.clone(),
                instance: r.id,
            })
            .collect())
    }
}
