//! The Docker engine for tests: a negotiated connection, and a guard that removes everything a
//! test created (containers, services, networks, secrets, images), also when the test panics.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error;
use bollard::models::{ContainerCreateBody, NetworkCreateRequest, ServiceSpec};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StartContainerOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;

pub use cleanup::leftovers;

mod cleanup;

/// The label every object a [`TestResources`] creates carries; its value is the run id.
pub const RUN_LABEL: &str = "org.ironfaas.e2e.run";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to the local engine (`DOCKER_HOST` if it is a `unix://` address, otherwise
/// `/var/run/docker.sock`) with the API version negotiated down to what the engine speaks.
///
/// # Panics
/// When the engine does not answer, saying where it looked.
pub async fn docker() -> Docker {
    connect().await.unwrap_or_else(|err| panic!("{err}"))
}

async fn connect() -> Result<Docker, String> {
    let place = match std::env::var("DOCKER_HOST") {
        Ok(host) => format!("DOCKER_HOST={host}"),
        Err(_) => "the socket /var/run/docker.sock (DOCKER_HOST is unset)".to_owned(),
    };
    let fail = |err: String| {
        format!(
            "the Docker engine does not answer at {place}: {err}. \
             Start dockerd, or set DOCKER_HOST=unix:///path/to/docker.sock"
        )
    };
    let attempt = async {
        let docker = Docker::connect_with_local_defaults()?
            .negotiate_version()
            .await?;
        docker.ping().await?;
        Ok::<_, Error>(docker)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(err)) => Err(fail(err.to_string())),
        Err(_) => Err(fail(format!("no answer within {CONNECT_TIMEOUT:?}"))),
    }
}

/// What a container printed, and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerOutput {
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Objects to remove that carry neither the run label nor the run prefix (for example a
/// service the code under test created under a name the test chose).
#[derive(Debug, Default, Clone)]
struct Tracked {
    containers: HashSet<String>,
    services: HashSet<String>,
    networks: HashSet<String>,
    secrets: HashSet<String>,
    images: HashSet<String>,
}

/// Owns the Docker objects of one test. Everything it creates is named with [`Self::prefix`] and
/// labelled `RUN_LABEL=<run id>`; on drop (or [`Self::cleanup`]) it removes every object that is
/// labelled so, named so, or was tracked with a `track_*` method.
///
/// Drop runs the removal on a thread with its own runtime, so it works inside any runtime
/// (including current-thread ones) and while a panic unwinds. A failed cleanup panics unless
/// the test is already panicking, in which case it is printed.
pub struct TestResources {
    docker: Docker,
    run_id: String,
    tracked: Mutex<Tracked>,
    runs: AtomicU32,
    cleaned: bool,
}

impl TestResources {
    /// Connects to the engine (see [`docker`]) and picks a fresh run id.
    pub async fn new() -> TestResources {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
        TestResources {
            docker: docker().await,
            run_id,
            tracked: Mutex::default(),
            runs: AtomicU32::new(0),
            cleaned: false,
        }
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The value of [`RUN_LABEL`] on this test's objects.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// `e2e-<run id>-`: short, lower case, valid in container, service, network, secret and
    /// image names and as an OpenFaaS function name.
    pub fn prefix(&self) -> String {
        prefix(&self.run_id)
    }

    /// A name for an object of this test: [`Self::prefix`] + `suffix`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix())
    }

    /// `{RUN_LABEL: run id}`, to put on objects created by hand.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([(RUN_LABEL.to_owned(), self.run_id.clone())])
    }

    /// Removes this container (id or name) at cleanup.
    pub fn track_container(&self, id: impl Into<String>) {
        self.with_tracked(|t| t.containers.insert(id.into()));
    }

    /// Removes this service (id or name), and its task containers, at cleanup.
    pub fn track_service(&self, id: impl Into<String>) {
        self.with_tracked(|t| t.services.insert(id.into()));
    }

    /// Removes this network (id or name) at cleanup.
    pub fn track_network(&self, id: impl Into<String>) {
        self.with_tracked(|t| t.networks.insert(id.into()));
    }

    /// Removes this secret (id or name) at cleanup.
    pub fn track_secret(&self, id: impl Into<String>) {
        self.with_tracked(|t| t.secrets.insert(id.into()));
    }

    /// Removes this image (id or `name:tag`) at cleanup.
    pub fn track_image(&self, id: impl Into<String>) {
        self.with_tracked(|t| t.images.insert(id.into()));
    }

    fn with_tracked<R>(&self, f: impl FnOnce(&mut Tracked) -> R) -> R {
        // A test that panicked while holding the lock left consistent sets behind.
        let mut tracked = self
            .tracked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut tracked)
    }

    /// Creates and starts a container named [`Self::name`]`(suffix)`, labelled for this run.
    ///
    /// # Panics
    /// When the engine refuses; the message names the container.
    pub async fn start_container(&self, suffix: &str, mut body: ContainerCreateBody) -> String {
        let name = self.name(suffix);
        body.labels
            .get_or_insert_with(HashMap::new)
            .extend(self.labels());
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        let id = self
            .docker
            .create_container(Some(options), body)
            .await
            .unwrap_or_else(|err| panic!("creating container {name}: {err}"))
            .id;
        self.track_container(id.clone());
        self.docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
            .unwrap_or_else(|err| panic!("starting container {name}: {err}"));
        id
    }

    /// Runs `cmd` (the image's own command if empty) in a new container from `image` until it
    /// exits, returns what it printed, and removes the container.
    ///
    /// # Panics
    /// When the engine refuses or the command runs longer than a minute.
    pub async fn run_to_completion(&self, image: &str, cmd: &[&str]) -> ContainerOutput {
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            cmd: (!cmd.is_empty()).then(|| cmd.iter().map(|arg| (*arg).to_owned()).collect()),
            ..Default::default()
        };
        self.run(body).await
    }

    /// Like [`Self::run_to_completion`] for a container described in full (to join a network,
    /// set environment, ...).
    pub async fn run(&self, body: ContainerCreateBody) -> ContainerOutput {
        let suffix = format!("run{}", self.runs.fetch_add(1, Ordering::Relaxed));
        let id = self.start_container(&suffix, body).await;
        let exit_code = self.wait_for_exit(&id).await;
        let output = self.logs(&id, exit_code).await;
        self.docker
            .remove_container(
                &id,
                Some(
                    RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await
            .unwrap_or_else(|err| panic!("removing container {id}: {err}"));
        self.with_tracked(|t| t.containers.remove(&id));
        output
    }

    async fn wait_for_exit(&self, id: &str) -> i64 {
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        match tokio::time::timeout(RUN_TIMEOUT, wait.next()).await {
            Ok(Some(Ok(response))) => response.status_code,
            // bollard reports a non-zero exit status as this error.
            Ok(Some(Err(Error::DockerContainerWaitError { code, .. }))) => code,
            Ok(Some(Err(err))) => panic!("waiting for container {id}: {err}"),
            Ok(None) => panic!("waiting for container {id}: the engine closed the stream"),
            Err(_) => {
                let so_far = self.logs(id, -1).await;
                panic!(
                    "container {id} still running after {RUN_TIMEOUT:?}; output so far: {so_far:?}"
                )
            }
        }
    }

    async fn logs(&self, id: &str, exit_code: i64) -> ContainerOutput {
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut output = ContainerOutput {
            exit_code,
            stdout: String::new(),
            stderr: String::new(),
        };
        while let Some(frame) = logs.next().await {
            match frame.unwrap_or_else(|err| panic!("reading logs of container {id}: {err}")) {
                LogOutput::StdErr { message } => {
                    output.stderr.push_str(&String::from_utf8_lossy(&message))
                }
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    output.stdout.push_str(&String::from_utf8_lossy(&message));
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        output
    }

    /// Creates a network named [`Self::name`]`(suffix)` with `driver` (`bridge` or `overlay`;
    /// overlay networks are attachable so plain containers can join them too). Returns its name.
    pub async fn create_network(&self, suffix: &str, driver: &str) -> String {
        let name = self.name(suffix);
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some(driver.to_owned()),
            attachable: (driver == "overlay").then_some(true),
            labels: Some(self.labels()),
            ..Default::default()
        };
        let id = self
            .docker
            .create_network(request)
            .await
            .unwrap_or_else(|err| panic!("creating {driver} network {name}: {err}"))
            .id;
        self.track_network(id);
        name
    }

    /// Creates a swarm service from `spec`, labelling the service and its containers for this
    /// run. Name it with [`Self::name`]. Returns the service id.
    pub async fn create_service(&self, mut spec: ServiceSpec) -> String {
        spec.labels
            .get_or_insert_with(HashMap::new)
            .extend(self.labels());
        if let Some(container) = spec
            .task_template
            .as_mut()
            .and_then(|t| t.container_spec.as_mut())
        {
            container
                .labels
                .get_or_insert_with(HashMap::new)
                .extend(self.labels());
        }
        let name = spec.name.clone().unwrap_or_default();
        let id = self
            .docker
            .create_service(spec, None)
            .await
            .unwrap_or_else(|err| panic!("creating service {name}: {err}"))
            .id
            .unwrap_or_else(|| panic!("creating service {name}: the engine returned no id"));
        self.track_service(id.clone());
        id
    }

    /// Removes everything now, on the caller's runtime, instead of at drop.
    ///
    /// # Panics
    /// When something could not be removed within a minute; the message lists it.
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        let tracked = self.with_tracked(std::mem::take);
        if let Err(left) = cleanup::sweep(&self.docker, &self.run_id, &tracked).await {
            panic!("cleanup of e2e run {} failed: {left}", self.run_id);
        }
    }
}

impl Drop for TestResources {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let run_id = self.run_id.clone();
        let tracked = self.with_tracked(std::mem::take);
        // A fresh connection on a fresh runtime: the test's runtime may be the thread we block.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| format!("cannot build a runtime: {err}"))?;
            runtime.block_on(async {
                let docker = connect().await?;
                cleanup::sweep(&docker, &run_id, &tracked).await
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the cleanup thread panicked".to_owned()));
        if let Err(left) = outcome {
            let message = format!("cleanup of e2e run {} failed: {left}", self.run_id);
            if std::thread::panicking() {
                // A second panic would abort the whole test binary.
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

fn prefix(run_id: &str) -> String {
    format!("e2e-{run_id}-")
}
