//! Finding and removing the Docker objects of one test run, whatever created them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::errors::Error;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptions, ListNetworksOptions, ListSecretsOptions,
    ListServicesOptions, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use bollard::Docker;

use super::{prefix, Tracked, RUN_LABEL};

/// How long removal may retry: networks and secrets stay in use until the tasks of a removed
/// service have stopped.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Swarm labels task containers with their service's name, which is how a service's
/// containers are found when only the service was tracked.
const SWARM_SERVICE_LABEL: &str = "com.docker.swarm.service.name";

/// Every object of run `run_id` still present (labelled with it or named with its prefix), as
/// `kind name (id)` lines. Empty once a [`TestResources`] has cleaned up.
pub async fn leftovers(docker: &Docker, run_id: &str) -> Vec<String> {
    match Objects::list(docker, run_id, &Tracked::default()).await {
        Ok(objects) => objects.describe(),
        Err(err) => vec![format!("cannot list objects: {err}")],
    }
}

/// Removes the run's objects, retrying until none is left or the cleanup timeout passes.
pub(super) async fn sweep(docker: &Docker, run_id: &str, tracked: &Tracked) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + CLEANUP_TIMEOUT;
    let mut removed_services = HashSet::new();
    loop {
        let last = match sweep_once(docker, run_id, tracked, &mut removed_services).await {
            Ok(()) => return Ok(()),
            Err(state) => state,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("still there after {CLEANUP_TIMEOUT:?}: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One removal round; `Err` describes what is left.
async fn sweep_once(
    docker: &Docker,
    run_id: &str,
    tracked: &Tracked,
    removed_services: &mut HashSet<String>,
) -> Result<(), String> {
    let mut objects = Objects::list(docker, run_id, tracked)
        .await
        .map_err(|e| e.to_string())?;
    // Containers of services removed in an earlier round are no longer found through the
    // service, but swarm may still be stopping them.
    objects
        .add_containers_of(docker, removed_services)
        .await
        .map_err(|e| e.to_string())?;
    if objects.is_empty() {
        return Ok(());
    }
    removed_services.extend(objects.services.iter().map(|s| s.name.clone()));
    let errors = objects.remove(docker).await;
    let mut left = Objects::list(docker, run_id, tracked)
        .await
        .map_err(|e| e.to_string())?;
    left.add_containers_of(docker, removed_services)
        .await
        .map_err(|e| e.to_string())?;
    if left.is_empty() && errors.is_empty() {
        Ok(())
    } else {
        Err(format!("left: {:?}; errors: {errors:?}", left.describe()))
    }
}

/// One Docker object: what to call it in messages and how to address it.
#[derive(Debug, Clone)]
struct Object {
    id: String,
    name: String,
}

/// The objects of one run, by kind, in the order they must be removed.
#[derive(Debug, Default)]
struct Objects {
    services: Vec<Object>,
    containers: Vec<Object>,
    secrets: Vec<Object>,
    networks: Vec<Object>,
    images: Vec<Object>,
}

/// Whether an object belongs to the run: by label, by name prefix, or because it was tracked.
struct Owner<'a> {
    run_id: &'a str,
    prefix: String,
    tracked: &'a HashSet<String>,
}

impl Owner<'_> {
    fn owns(&self, id: &str, names: &[&str], labels: Option<&HashMap<String, String>>) -> bool {
        let labelled = labels
            .and_then(|l| l.get(RUN_LABEL))
            .is_some_and(|v| v == self.run_id);
        let named = names
            .iter()
            .any(|n| n.starts_with(&self.prefix) || self.tracked.contains(*n));
        labelled || named || self.tracked.iter().any(|t| same_id(t, id))
    }
}

/// Whether a tracked value names object `id`: the whole id, or a short hex id (12 digits or
/// more, as `docker ps` prints) it starts with. Shorter prefixes could hit another test's
/// objects on a shared engine.
fn same_id(tracked: &str, id: &str) -> bool {
    let tracked = tracked.trim_start_matches("sha256:");
    tracked == id
        || (tracked.len() >= 12
            && tracked.chars().all(|c| c.is_ascii_hexdigit())
            && id.starts_with(tracked))
}

impl Objects {
    async fn list(docker: &Docker, run_id: &str, tracked: &Tracked) -> Result<Objects, Error> {
        let owner = |tracked| Owner {
            run_id,
            prefix: prefix(run_id),
            tracked,
        };
        let mut objects = Objects::default();

        let services = owner(&tracked.services);
        for service in not_swarm_is_empty(docker.list_services(None::<ListServicesOptions>).await)?
        {
            let id = service.id.unwrap_or_default();
            let spec = service.spec.unwrap_or_default();
            let name = spec.name.unwrap_or_default();
            if services.owns(&id, &[&name], spec.labels.as_ref()) {
                objects.services.push(Object { id, name });
            }
        }

        let service_names: HashSet<String> =
            objects.services.iter().map(|s| s.name.clone()).collect();
        let containers = owner(&tracked.containers);
        let options = ListContainersOptionsBuilder::new().all(true).build();
        for container in docker.list_containers(Some(options)).await? {
            let id = container.id.unwrap_or_default();
            let names: Vec<String> = container
                .names
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.trim_start_matches('/').to_owned())
                .collect();
            let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let labels = container.labels.unwrap_or_default();
            let of_our_service = labels
                .get(SWARM_SERVICE_LABEL)
                .is_some_and(|s| service_names.contains(s));
            if of_our_service || containers.owns(&id, &name_refs, Some(&labels)) {
                let name = names.into_iter().next().unwrap_or_default();
                objects.containers.push(Object { id, name });
            }
        }

        let secrets = owner(&tracked.secrets);
        for secret in not_swarm_is_empty(docker.list_secrets(None::<ListSecretsOptions>).await)? {
            let id = secret.id.unwrap_or_default();
            let spec = secret.spec.unwrap_or_default();
            let name = spec.name.unwrap_or_default();
            if secrets.owns(&id, &[&name], spec.labels.as_ref()) {
                objects.secrets.push(Object { id, name });
            }
        }

        let networks = owner(&tracked.networks);
        for network in docker.list_networks(None::<ListNetworksOptions>).await? {
            let id = network.id.unwrap_or_default();
            let name = network.name.unwrap_or_default();
            if networks.owns(&id, &[&name], network.labels.as_ref()) {
                objects.networks.push(Object { id, name });
            }
        }

        let images = owner(&tracked.images);
        for image in docker.list_images(None::<ListImagesOptions>).await? {
            let id = image.id.trim_start_matches("sha256:").to_owned();
            // A tracked `name` means `name:latest`, as it does for `docker rmi`.
            let tags: Vec<&str> = image.repo_tags.iter().map(String::as_str).collect();
            let untagged_tracked = tags.iter().any(|t| {
                t.strip_suffix(":latest")
                    .is_some_and(|bare| images.tracked.contains(bare))
            });
            if untagged_tracked || images.owns(&id, &tags, Some(&image.labels)) {
                let name = tags
                    .first()
                    .map_or_else(|| "<none>".to_owned(), |t| (*t).to_owned());
                objects.images.push(Object { id, name });
            }
        }
        Ok(objects)
    }

    async fn add_containers_of(
        &mut self,
        docker: &Docker,
        services: &HashSet<String>,
    ) -> Result<(), Error> {
        if services.is_empty() {
            return Ok(());
        }
        let options = ListContainersOptionsBuilder::new().all(true).build();
        for container in docker.list_containers(Some(options)).await? {
            let id = container.id.unwrap_or_default();
            let of_service = container
                .labels
                .as_ref()
                .and_then(|l| l.get(SWARM_SERVICE_LABEL))
                .is_some_and(|s| services.contains(s));
            if of_service && !self.containers.iter().any(|c| c.id == id) {
                let name = container
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .unwrap_or_default();
                self.containers.push(Object { id, name });
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.containers.is_empty()
            && self.secrets.is_empty()
            && self.networks.is_empty()
            && self.images.is_empty()
    }

    fn describe(&self) -> Vec<String> {
        let kinds = [
            ("service", &self.services),
            ("container", &self.containers),
            ("secret", &self.secrets),
            ("network", &self.networks),
            ("image", &self.images),
        ];
        kinds
            .iter()
            .flat_map(|(kind, objects)| {
                objects
                    .iter()
                    .map(move |o| format!("{kind} {} ({})", o.name, o.id))
            })
            .collect()
    }

    /// Removes services first (their tasks hold networks and secrets), images last (containers
    /// hold them). Returns what failed; "not found" counts as removed.
    async fn remove(&self, docker: &Docker) -> Vec<String> {
        let mut errors = Vec::new();
        let mut note = |kind: &str, object: &Object, result: Result<(), Error>| match result {
            Ok(())
            | Err(Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(err) => errors.push(format!("{kind} {}: {err}", object.name)),
        };
        for s in &self.services {
            note("service", s, docker.delete_service(&s.id).await);
        }
        let force = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        for c in &self.containers {
            note(
                "container",
                c,
                docker.remove_container(&c.id, Some(force.clone())).await,
            );
        }
        for s in &self.secrets {
            note("secret", s, docker.delete_secret(&s.id).await);
        }
        for n in &self.networks {
            note("network", n, docker.remove_network(&n.id).await);
        }
        let force = RemoveImageOptionsBuilder::new().force(true).build();
        for i in &self.images {
            let result = docker
                .remove_image(&i.id, Some(force.clone()), None)
                .await
                .map(drop);
            note("image", i, result);
        }
        errors
    }
}

/// Listing services or secrets on an engine that is not a swarm manager fails with 503; such an
/// engine has none of either.
fn not_swarm_is_empty<T>(result: Result<Vec<T>, Error>) -> Result<Vec<T>, Error> {
    match result {
        Err(Error::DockerResponseServerError {
            status_code: 503, ..
        }) => Ok(Vec::new()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner<'a>(tracked: &'a HashSet<String>) -> Owner<'a> {
        Owner {
            run_id: "abc",
            prefix: prefix("abc"),
            tracked,
        }
    }

    #[test]
    fn an_object_is_owned_by_label_prefix_or_tracking() {
        let tracked = HashSet::from([
            "figlet".to_owned(),
            "cafe".to_owned(),
            "0123456789ab".to_owned(),
            "r3qtvr9agobzaei4hryc1qrvp".to_owned(),
        ]);
        let owner = owner(&tracked);
        let ours = HashMap::from([(RUN_LABEL.to_owned(), "abc".to_owned())]);
        let theirs = HashMap::from([(RUN_LABEL.to_owned(), "xyz".to_owned())]);
        let cases = [
            (
                "labelled with the run id",
                "ffff",
                "other",
                Some(&ours),
                true,
            ),
            (
                "labelled with another run id",
                "ffff",
                "other",
                Some(&theirs),
                false,
            ),
            (
                "named with the run prefix",
                "ffff",
                "e2e-abc-fn",
                None,
                true,
            ),
            (
                "named with another run's prefix",
                "ffff",
                "e2e-xyz-fn",
                None,
                false,
            ),
            ("tracked by name", "ffff", "figlet", None, true),
            (
                "tracked by short id",
                "0123456789abcdef",
                "other",
                None,
                true,
            ),
            (
                "tracked by swarm id",
                "r3qtvr9agobzaei4hryc1qrvp",
                "other",
                None,
                true,
            ),
            (
                "a name is no id prefix",
                "cafe0123456789ab",
                "other",
                None,
                false,
            ),
            ("unrelated", "ffff", "nats", None, false),
        ];
        for (case, id, name, labels, expected) in cases {
            assert_eq!(owner.owns(id, &[name], labels), expected, "{case}");
        }
    }
}
