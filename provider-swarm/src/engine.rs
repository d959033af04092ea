//! The Docker engine connection: connecting with a negotiated API version, choosing the
//! backend, creating the function network, and turning engine errors into `ProviderError`s.

use std::collections::HashMap;
use std::fmt::Display;

use base64::Engine;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{CreateImageOptions, ListNetworksOptions};
use bollard::Docker;
use faas_provider::ProviderError;
use futures::TryStreamExt;

use crate::config::BackendChoice;

/// Label on the networks this provider creates.
pub const NETWORK_LABEL: &str = "com.ironfaas.network";

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot connect to the Docker engine")]
    Connect(#[source] DockerError),
    #[error("the Docker engine does not answer")]
    Negotiate(#[source] DockerError),
    #[error("cannot read the Docker engine's state (docker info)")]
    Info(#[source] DockerError),
    #[error("backend=swarm but this engine is not a swarm manager")]
    NotSwarmManager,
    #[error("cannot create or inspect network {network}")]
    Network {
        network: String,
        #[source]
        source: DockerError,
    },
    #[error("network {network} exists but its driver is {driver}, not {want}")]
    NetworkDriver {
        network: String,
        driver: String,
        want: String,
    },
}

/// The backend `auto` resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orchestration {
    Swarm,
    Containers,
}

impl Orchestration {
    pub fn as_str(self) -> &'static str {
        match self {
            Orchestration::Swarm => "swarm",
            Orchestration::Containers => "containers",
        }
    }
}

/// Connects through the standard Docker environment (`DOCKER_HOST`) and negotiates the API
/// version down to what the engine speaks.
pub async fn connect() -> Result<Docker, EngineError> {
    Docker::connect_with_local_defaults()
        .map_err(EngineError::Connect)?
        .negotiate_version()
        .await
        .map_err(EngineError::Negotiate)
}

/// `auto` is swarm when the engine can manage services (`Swarm.ControlAvailable`).
pub async fn choose(docker: &Docker, choice: BackendChoice) -> Result<Orchestration, EngineError> {
    let manager = || async {
        let info = docker.info().await.map_err(EngineError::Info)?;
        Ok::<_, EngineError>(
            info.swarm
                .and_then(|s| s.control_available)
                .unwrap_or(false),
        )
    };
    match choice {
        BackendChoice::Containers => Ok(Orchestration::Containers),
        BackendChoice::Swarm if manager().await? => Ok(Orchestration::Swarm),
        BackendChoice::Swarm => Err(EngineError::NotSwarmManager),
        BackendChoice::Auto if manager().await? => Ok(Orchestration::Swarm),
        BackendChoice::Auto => Ok(Orchestration::Containers),
    }
}

/// Creates the function network when missing: an attachable overlay for swarm (so tools and
/// test clients can join it), a bridge for containers. An existing network must have the
/// right driver.
pub async fn ensure_network(
    docker: &Docker,
    name: &str,
    orchestration: Orchestration,
) -> Result<(), EngineError> {
    let want = match orchestration {
        Orchestration::Swarm => "overlay",
        Orchestration::Containers => "bridge",
    };
    let err = |source| EngineError::Network {
        network: name.to_owned(),
        source,
    };
    let existing = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(HashMap::from([("name".to_owned(), vec![name.to_owned()])])),
        }))
        .await
        .map_err(err)?;
    // The name filter matches substrings.
    if let Some(n) = existing.iter().find(|n| n.name.as_deref() == Some(name)) {
        let driver = n.driver.clone().unwrap_or_default();
        if driver != want {
            return Err(EngineError::NetworkDriver {
                network: name.to_owned(),
                driver,
                want: want.to_owned(),
            });
        }
        return Ok(());
    }
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some(want.to_owned()),
        attachable: Some(orchestration == Orchestration::Swarm),
        labels: Some(HashMap::from([(
            NETWORK_LABEL.to_owned(),
            "true".to_owned(),
        )])),
        ..Default::default()
    };
    match docker.create_network(request).await {
        Ok(_) => {
            tracing::info!(
                network = name,
                driver = want,
                "created the function network"
            );
            Ok(())
        }
        // Another provider created it meanwhile.
        Err(e) if status(&e) == Some(409) => Ok(()),
        Err(e) => Err(err(e)),
    }
}

/// `registryAuth` (base64 of `user:password`, CONTRACT.md §6.3) as engine credentials for the
/// registry the image names.
pub fn registry_credentials(
    image: &str,
    registry_auth: &str,
) -> Result<Option<DockerCredentials>, ProviderError> {
    if registry_auth.is_empty() {
        return Ok(None);
    }
    let invalid = || ProviderError::Invalid("registryAuth is not base64 of user:password".into());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(registry_auth.trim())
        .map_err(|_| invalid())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
    let (user, password) = decoded.split_once(':').ok_or_else(invalid)?;
    Ok(Some(DockerCredentials {
        username: Some(user.to_owned()),
        password: Some(password.to_owned()),
        serveraddress: Some(registry_of(image).to_owned()),
        ..Default::default()
    }))
}

/// The registry host of an image reference (`docker.io` unless the first path component
/// looks like a host), as Docker's reference parser decides.
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Makes sure the image is on the engine, pulling it when it is not; an image that is
/// neither there nor pullable is the client's mistake (400 naming the image).
pub async fn ensure_image(
    docker: &Docker,
    image: &str,
    credentials: Option<DockerCredentials>,
) -> Result<(), ProviderError> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(error(format_args!("inspect image {image}"), e)),
    }
    let options = CreateImageOptions {
        from_image: Some(image.to_owned()),
        ..Default::default()
    };
    docker
        .create_image(Some(options), None, credentials)
        .try_collect::<Vec<_>>()
        .await
        .map(drop)
        .map_err(|e| {
            ProviderError::Invalid(format!(
                "image {image:?} is not on the engine and could not be pulled: {}",
                message(&e)
            ))
        })
}

/// The HTTP status the engine answered with, if it answered.
pub fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub fn is_not_found(e: &DockerError) -> bool {
    status(e) == Some(404)
}

/// The engine's own message, without bollard's wrapping.
pub fn message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// An engine failure during `operation`: the engine's 400 is the caller's mistake, no answer
/// at all is `Unavailable`, anything else is the engine failing (502).
pub fn error(operation: impl Display, e: DockerError) -> ProviderError {
    let msg = format!("{operation}: {}", message(&e));
    match status(&e) {
        Some(400) => ProviderError::Invalid(msg),
        Some(_) => ProviderError::Backend(msg),
        None => ProviderError::Unavailable(msg),
    }
}

/// Errors creating a function's objects: a missing image is the client's mistake (no registry
/// is consulted), as is anything else the engine rejects as a bad request.
pub fn create_error(operation: impl Display, image: &str, e: DockerError) -> ProviderError {
    let msg = message(&e);
    if is_not_found(&e) && msg.to_ascii_lowercase().contains("image") {
        return ProviderError::Invalid(format!(
            "image {image:?} was not found on the engine: {msg}"
        ));
    }
    error(operation, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code,
            message: message.to_owned(),
        }
    }

    #[test]
    fn registry_auth() {
        let auth = base64::engine::general_purpose::STANDARD.encode("user:pw");
        let c = registry_credentials("ghcr.io/org/fn:1", &auth)
            .unwrap()
            .unwrap();
        assert_eq!(c.username.as_deref(), Some("user"));
        assert_eq!(c.password.as_deref(), Some("pw"));
        assert_eq!(c.serveraddress.as_deref(), Some("ghcr.io"));
        assert_eq!(registry_of("functions/alpine:latest"), "docker.io");
        assert_eq!(registry_of("alpine"), "docker.io");
        assert_eq!(registry_of("localhost:5000/fn"), "localhost:5000");
        assert!(registry_credentials("x", "").unwrap().is_none());
        let no_colon = base64::engine::general_purpose::STANDARD.encode("user");
        for bad in ["!!", no_colon.as_str()] {
            let err = registry_credentials("x", bad).unwrap_err();
            assert!(err.to_string().contains("registryAuth"), "{err}");
        }
    }

    #[test]
    fn error_table() {
        let cases = [
            (
                error("create", server(400, "invalid reference format")),
                "invalid",
            ),
            (error("update", server(500, "boom")), "backend"),
            (
                error("list", DockerError::RequestTimeoutError),
                "unavailable",
            ),
            (
                create_error("create", "nope:1", server(404, "No such image: nope:1")),
                "invalid",
            ),
            (
                create_error("create", "x", server(404, "network fnet not found")),
                "backend",
            ),
        ];
        for (err, kind) in cases {
            assert_eq!(err.kind(), kind, "{err}");
        }
        let e = create_error("create", "nope:1", server(404, "No such image: nope:1"));
        assert!(e.to_string().contains("nope:1"), "{e}");
    }
}
