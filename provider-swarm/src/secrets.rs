//! Secrets: Swarm secrets for the swarm backend; files under `<data_dir>/secrets/` for the
//! containers backend, bind-mounted read-only at `/var/openfaas/secrets/<name>`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use bollard::models::SecretSpec;
use bollard::query_parameters::ListSecretsOptions;
use bollard::Docker;
use faas_provider::ProviderError;

use crate::engine;
use crate::spec::ResolvedSecret;

/// Marks the Swarm secrets this provider manages (faas-swarm's label).
pub const OWNER_LABEL: &str = "com.openfaas.owner";
const OWNER: &str = "openfaas";
/// The OpenFaaS name of a Swarm secret. Swarm secrets are immutable, so an update creates a
/// new version under another Docker name carrying the same OpenFaaS name.
pub const NAME_LABEL: &str = "com.ironfaas.secret-name";

fn missing(name: &str) -> ProviderError {
    ProviderError::Invalid(format!(
        "secret {name} not found; create it first (faas-cli secret create {name})"
    ))
}

/// One Docker secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The OpenFaaS name.
    pub name: String,
    pub docker_name: String,
    pub id: String,
    pub owned: bool,
    /// RFC 3339, to pick the newest version.
    pub created_at: String,
}

/// The Docker name of a new version of secret `name`: within Docker's 64 characters.
pub fn version_name(name: &str, suffix: &str) -> String {
    let keep = 64 - suffix.len() - 1;
    let base: String = name.chars().take(keep).collect();
    format!("{base}.{suffix}")
}

/// Swarm secrets labelled `com.openfaas.owner=openfaas`.
#[derive(Clone)]
pub struct SwarmSecrets {
    docker: Docker,
}

impl SwarmSecrets {
    pub fn new(docker: Docker) -> Self {
        Self { docker }
    }

    /// Every Swarm secret (ours or not), oldest first.
    pub async fn versions(&self) -> Result<Vec<Version>, ProviderError> {
        let secrets = self
            .docker
            .list_secrets(None::<ListSecretsOptions>)
            .await
            .map_err(|e| engine::error("list secrets", e))?;
        let mut versions: Vec<Version> = secrets
            .into_iter()
            .filter_map(|s| {
                let spec = s.spec?;
                let labels = spec.labels.unwrap_or_default();
                let docker_name = spec.name?;
                Some(Version {
                    name: labels
                        .get(NAME_LABEL)
                        .cloned()
                        .unwrap_or_else(|| docker_name.clone()),
                    owned: labels.get(OWNER_LABEL).is_some_and(|v| v == OWNER),
                    docker_name,
                    id: s.id?,
                    created_at: s.created_at.unwrap_or_default(),
                })
            })
            .collect();
        versions.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(versions)
    }

    pub async fn names(&self) -> Result<Vec<String>, ProviderError> {
        let mut names: Vec<String> = self
            .versions()
            .await?
            .into_iter()
            .filter(|v| v.owned)
            .map(|v| v.name)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The newest version of each secret a deployment names; a missing one is the client's
    /// mistake. Secrets created outside the provider may be used too, as in faas-swarm.
    pub async fn resolve(&self, names: &[String]) -> Result<Vec<ResolvedSecret>, ProviderError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // Oldest first, so the newest version of a name is the one kept.
        let newest: HashMap<String, Version> = self
            .versions()
            .await?
            .into_iter()
            .map(|v| (v.name.clone(), v))
            .collect();
        names
            .iter()
            .map(|name| {
                newest
                    .get(name)
                    .map(|v| ResolvedSecret {
                        name: name.clone(),
                        docker_name: v.docker_name.clone(),
                        id: v.id.clone(),
                    })
                    .ok_or_else(|| missing(name))
            })
            .collect()
    }

    /// Creates a version of `name` under `docker_name`; returns its id.
    async fn create_version(
        &self,
        name: &str,
        docker_name: &str,
        data: &[u8],
    ) -> Result<String, ProviderError> {
        let spec = SecretSpec {
            name: Some(docker_name.to_owned()),
            labels: Some(HashMap::from([
                (OWNER_LABEL.to_owned(), OWNER.to_owned()),
                (NAME_LABEL.to_owned(), name.to_owned()),
            ])),
            data: Some(base64::engine::general_purpose::STANDARD.encode(data)),
            ..Default::default()
        };
        match self.docker.create_secret(spec).await {
            Ok(r) => Ok(r.id),
            Err(e) if engine::status(&e) == Some(409) => {
                Err(ProviderError::SecretExists(name.to_owned()))
            }
            Err(e) => Err(engine::error(format_args!("create secret {name}"), e)),
        }
    }

    pub async fn create(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        if self.versions().await?.iter().any(|v| v.name == name) {
            return Err(ProviderError::SecretExists(name.to_owned()));
        }
        self.create_version(name, name, data).await.map(drop)
    }

    /// Creates the next version of an owned secret; returns it and the versions it replaces.
    pub async fn new_version(
        &self,
        name: &str,
        data: &[u8],
    ) -> Result<(ResolvedSecret, Vec<Version>), ProviderError> {
        let old: Vec<Version> = self
            .versions()
            .await?
            .into_iter()
            .filter(|v| v.name == name)
            .collect();
        if !old.iter().any(|v| v.owned) {
            return Err(ProviderError::SecretNotFound(name.to_owned()));
        }
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        let docker_name = version_name(name, suffix);
        let id = self.create_version(name, &docker_name, data).await?;
        Ok((
            ResolvedSecret {
                name: name.to_owned(),
                docker_name,
                id,
            },
            old,
        ))
    }

    /// Removes Docker secrets by id; `Err` when one is still in use.
    pub async fn remove(&self, versions: &[Version]) -> Result<(), ProviderError> {
        for v in versions {
            match self.docker.delete_secret(&v.id).await {
                Ok(()) => {}
                Err(e) if engine::is_not_found(&e) => {}
                Err(e) if matches!(engine::status(&e), Some(400 | 409)) => {
                    return Err(ProviderError::Invalid(format!(
                        "delete secret {}: {}",
                        v.name,
                        engine::message(&e)
                    )))
                }
                Err(e) => return Err(engine::error(format_args!("delete secret {}", v.name), e)),
            }
        }
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), ProviderError> {
        let versions: Vec<Version> = self
            .versions()
            .await?
            .into_iter()
            .filter(|v| v.name == name)
            .collect();
        if versions.is_empty() {
            return Err(ProviderError::SecretNotFound(name.to_owned()));
        }
        if let Some(foreign) = versions.iter().find(|v| !v.owned) {
            return Err(ProviderError::Invalid(format!(
                "secret {} is not managed by OpenFaaS (no {OWNER_LABEL}={OWNER} label)",
                foreign.docker_name
            )));
        }
        self.remove(&versions).await
    }
}

/// One file per secret, readable by any user inside the function (mode 0644, as Swarm's 0444
/// plus the owner's write bit so updates can rewrite it in place: a bind mount pins the
/// inode, so running replicas see the new value).
#[derive(Clone, Debug)]
pub struct FileSecrets {
    dir: PathBuf,
}

impl FileSecrets {
    /// Creates `<data_dir>/secrets` (mode 0700) when missing.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let dir = data_dir.join("secrets");
        std::fs::create_dir_all(&dir).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
        })?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Self { dir })
    }

    /// Where a secret's value lives on the host; names are validated by the API layer, so
    /// they hold no `/` and cannot be `..`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn io_error(name: &str, op: &str, e: std::io::Error) -> ProviderError {
        ProviderError::Internal(format!("{op} secret {name}: {e}"))
    }

    pub async fn names(&self) -> Result<Vec<String>, ProviderError> {
        let dir = self.dir.clone();
        let names = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    names.extend(entry.file_name().to_str().map(str::to_owned));
                }
            }
            names.sort();
            Ok(names)
        })
        .await
        .map_err(|e| ProviderError::Internal(format!("list secrets: {e}")))?
        .map_err(|e| ProviderError::Internal(format!("list secrets: {e}")))?;
        Ok(names)
    }

    /// Host paths of the secrets a deployment names; a missing one is the client's mistake.
    pub fn resolve(&self, names: &[String]) -> Result<Vec<(String, PathBuf)>, ProviderError> {
        names
            .iter()
            .map(|n| {
                let path = self.path(n);
                if path.is_file() {
                    Ok((n.clone(), path))
                } else {
                    Err(missing(n))
                }
            })
            .collect()
    }

    pub fn create(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(self.path(name))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => ProviderError::SecretExists(name.to_owned()),
                _ => Self::io_error(name, "create", e),
            })?;
        file.write_all(data)
            .and_then(|()| file.sync_all())
            .map_err(|e| Self::io_error(name, "write", e))
    }

    pub fn update(&self, name: &str, data: &[u8]) -> Result<(), ProviderError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.path(name))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ProviderError::SecretNotFound(name.to_owned()),
                _ => Self::io_error(name, "update", e),
            })?;
        file.write_all(data)
            .and_then(|()| file.sync_all())
            .map_err(|e| Self::io_error(name, "write", e))
    }

    pub fn delete(&self, name: &str) -> Result<(), ProviderError> {
        std::fs::remove_file(self.path(name)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ProviderError::SecretNotFound(name.to_owned()),
            _ => Self::io_error(name, "delete", e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_fit_docker() {
        assert_eq!(
            version_name("api-key", "0123456789ab"),
            "api-key.0123456789ab"
        );
        let long = "k".repeat(64);
        let v = version_name(&long, "0123456789ab");
        assert_eq!(v.len(), 64);
        assert!(v.ends_with(".0123456789ab"));
    }

    #[tokio::test]
    async fn file_secrets_lifecycle() {
        let tmp = tempfile::tempdir().unwrap();
        let s = FileSecrets::open(tmp.path()).unwrap();
        s.create("api-key", b"one").unwrap();
        assert_eq!(
            s.create("api-key", b"x").unwrap_err(),
            ProviderError::SecretExists("api-key".into())
        );
        assert_eq!(s.names().await.unwrap(), ["api-key"]);
        let path = s.path("api-key");
        let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
        s.update("api-key", b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
        assert_eq!(
            inode, after,
            "updates must keep the inode bind mounts point at"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(s.resolve(&["api-key".into()]).unwrap()[0].1, path);
        let err = s.resolve(&["nope".into()]).unwrap_err();
        assert!(err.to_string().contains("secret nope not found"), "{err}");
        assert_eq!(
            s.update("nope", b"x").unwrap_err(),
            ProviderError::SecretNotFound("nope".into())
        );
        s.delete("api-key").unwrap();
        assert_eq!(
            s.delete("api-key").unwrap_err(),
            ProviderError::SecretNotFound("api-key".into())
        );
        assert!(s.names().await.unwrap().is_empty());
    }
}
