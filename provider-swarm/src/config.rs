//! Configuration from the environment: OpenFaaS's variable names plus the backend choice,
//! the function network and where the containers backend keeps secrets.

use std::path::PathBuf;
use std::time::Duration;

use faas_provider::auth::Credentials;
use faas_provider::config::{ConfigError, Env};
use serde::Deserialize;

/// Which engine objects run functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Swarm services when the engine is a swarm manager, containers otherwise.
    #[default]
    Auto,
    Swarm,
    Containers,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// Listen port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Server read timeout.
    #[serde(
        default = "default_timeout",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub read_timeout: Duration,
    /// Server write timeout; also bounds a followed log stream.
    #[serde(
        default = "default_timeout",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub write_timeout: Duration,
    /// Protect `/system/*` with the credentials under `secret_mount_path`.
    #[serde(default)]
    pub basic_auth: bool,
    #[serde(default = "default_secret_mount_path")]
    pub secret_mount_path: PathBuf,
    /// `auto`, `swarm` or `containers`.
    #[serde(default)]
    pub backend: BackendChoice,
    /// The one namespace served.
    #[serde(default = "default_namespace")]
    pub function_namespace: String,
    /// The network every function joins (created when missing: an attachable overlay in
    /// swarm mode, a bridge for containers).
    #[serde(default = "default_network")]
    pub function_network: String,
    /// The port the watchdog listens on inside every function.
    #[serde(default = "default_watchdog_port")]
    pub watchdog_port: u16,
    /// Containers backend: secret values live in `<data_dir>/secrets/` (bind-mounted
    /// read-only into functions).
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Containers backend: how long an update waits for new replicas to be ready.
    #[serde(
        default = "default_ready_timeout",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub ready_timeout: Duration,
    /// Containers backend: how long a replica taken out of the endpoints keeps running
    /// before it is stopped, so callers holding the old endpoint list finish.
    #[serde(
        default = "default_drain_delay",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub drain_delay: Duration,
    /// Grace period between SIGTERM and SIGKILL when a replica stops.
    #[serde(
        default = "default_stop_grace",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub stop_grace: Duration,
    #[serde(default)]
    pub write_debug: bool,
}

fn default_port() -> u16 {
    8080
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_secret_mount_path() -> PathBuf {
    PathBuf::from("/run/secrets/")
}
fn default_namespace() -> String {
    faas_provider::DEFAULT_NAMESPACE.to_owned()
}
fn default_network() -> String {
    "ironfaas-functions".to_owned()
}
fn default_watchdog_port() -> u16 {
    8080
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/ironfaas")
}
fn default_ready_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_drain_delay() -> Duration {
    Duration::from_secs(2)
}
fn default_stop_grace() -> Duration {
    Duration::from_secs(10)
}

impl Config {
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let config: Config = faas_provider::config::load(env)?;
        if config.function_namespace.is_empty() {
            return Err(ConfigError::new("function_namespace must not be empty"));
        }
        if config.function_network.is_empty() {
            return Err(ConfigError::new("function_network must not be empty"));
        }
        if config.watchdog_port == 0 {
            return Err(ConfigError::new("watchdog_port must not be 0"));
        }
        Ok(config)
    }

    /// Reads the basic-auth files when `basic_auth=true`.
    pub fn credentials(&self) -> Result<Option<Credentials>, ConfigError> {
        if !self.basic_auth {
            return Ok(None);
        }
        Credentials::read_from(&self.secret_mount_path)
            .map(Some)
            .map_err(|e| ConfigError::new(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use faas_provider::config::env_from;

    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_env(env_from([])).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.backend, BackendChoice::Auto);
        assert_eq!(c.function_namespace, "openfaas-fn");
        assert_eq!(c.function_network, "ironfaas-functions");
        assert_eq!(c.watchdog_port, 8080);
        assert_eq!(c.read_timeout, Duration::from_secs(10));
        assert!(!c.basic_auth);
        assert!(c.credentials().unwrap().is_none());
    }

    #[test]
    fn reads_values() {
        let c = Config::from_env(env_from([
            ("backend", "containers"),
            ("write_timeout", "5m5s"),
            ("function_network", "fn-net"),
            ("drain_delay", "0"),
        ]))
        .unwrap();
        assert_eq!(c.backend, BackendChoice::Containers);
        assert_eq!(c.write_timeout, Duration::from_secs(305));
        assert_eq!(c.function_network, "fn-net");
        assert_eq!(c.drain_delay, Duration::ZERO);
    }

    #[test]
    fn errors_name_the_variable() {
        for (env, var) in [
            (vec![("backend", "kubernetes")], "backend"),
            (vec![("port", "x")], "port"),
            (vec![("ready_timeout", "soon")], "ready_timeout"),
            (vec![("function_network", "")], "function_network"),
            (vec![("watchdog_port", "0")], "watchdog_port"),
            (
                vec![
                    ("basic_auth", "true"),
                    ("secret_mount_path", "/nonexistent"),
                ],
                "basic-auth-user",
            ),
        ] {
            let err = Config::from_env(env_from(env))
                .and_then(|c| c.credentials().map(|_| c))
                .unwrap_err()
                .to_string();
            assert!(err.contains(var), "{err:?} should name {var}");
        }
    }
}
