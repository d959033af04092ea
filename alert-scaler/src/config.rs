//! The alert-scaler's configuration, from the environment (OpenFaaS variable names).

use std::path::PathBuf;
use std::time::Duration;

use faas_provider::auth::{Credentials, CredentialsError};
use faas_provider::client::HttpProvider;
use faas_provider::config::{self, ConfigError, Env};
use faas_provider::{ProviderError, DEFAULT_NAMESPACE};
use serde::Deserialize;

use crate::policy::Defaults;

/// Why the provider client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("reading the basic-auth credentials")]
    Credentials(#[from] CredentialsError),
    #[error("functions_provider_url")]
    Provider(#[source] ProviderError),
}

#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// Port serving `/system/alert`, `/system/scaling-decisions`, `/metrics`, `/healthz`.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The provider that scales functions (`http://provider:8080/`); the gateway is not needed.
    pub functions_provider_url: String,
    /// Require basic auth on `/system/*` and send it to the provider.
    #[serde(default)]
    pub basic_auth: bool,
    /// Where `basic-auth-user` and `basic-auth-password` are.
    #[serde(default = "default_secret_mount_path")]
    pub secret_mount_path: PathBuf,
    /// The namespace the provider serves; alerts naming another are not acted on.
    #[serde(default = "default_namespace")]
    pub function_namespace: String,
    /// Prometheus, for the idler (the gateway's variable names).
    #[serde(default = "default_prometheus_host")]
    pub faas_prometheus_host: String,
    #[serde(default = "default_prometheus_port")]
    pub faas_prometheus_port: u16,
    /// How often the idler looks for idle functions; `0` turns scale to zero off.
    #[serde(
        default = "default_reconcile_interval",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub reconcile_interval: Duration,
    /// Zero-duration of functions without `com.openfaas.scale.zero-duration` (faas-idler's name).
    #[serde(
        default = "default_inactivity_duration",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub inactivity_duration: Duration,
    /// `com.openfaas.scale.min` when unset.
    #[serde(default = "default_min_replicas")]
    pub default_min_replicas: u64,
    /// `com.openfaas.scale.max` when unset.
    #[serde(default = "default_max_replicas")]
    pub default_max_replicas: u64,
    /// `com.openfaas.scale.factor` when unset, 0–100.
    #[serde(default = "default_scaling_factor")]
    pub default_scaling_factor: u64,
    /// Bound on each call to the provider and to Prometheus.
    #[serde(
        default = "default_request_timeout",
        deserialize_with = "faas_provider::duration::deserialize"
    )]
    pub request_timeout: Duration,
    /// Decisions kept per function for `/system/scaling-decisions`.
    #[serde(default = "default_decision_history")]
    pub decision_history: usize,
    #[serde(default)]
    pub write_debug: bool,
}

fn default_port() -> u16 {
    8080
}
fn default_secret_mount_path() -> PathBuf {
    PathBuf::from("/run/secrets/")
}
fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_owned()
}
fn default_prometheus_host() -> String {
    "prometheus".to_owned()
}
fn default_prometheus_port() -> u16 {
    9090
}
fn default_reconcile_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_inactivity_duration() -> Duration {
    Defaults::default().zero_duration
}
fn default_min_replicas() -> u64 {
    Defaults::default().min
}
fn default_max_replicas() -> u64 {
    Defaults::default().max
}
fn default_scaling_factor() -> u64 {
    Defaults::default().factor
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_decision_history() -> usize {
    50
}

impl Config {
    /// Reads and checks the configuration; an error names the variable.
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let c: Config = config::load(env)?;
        url::Url::parse(&c.functions_provider_url).map_err(|e| {
            ConfigError::new(format!(
                "functions_provider_url={:?} is not a URL: {e}",
                c.functions_provider_url
            ))
        })?;
        if c.default_scaling_factor > 100 {
            return Err(ConfigError::new(format!(
                "default_scaling_factor={} must be between 0 and 100",
                c.default_scaling_factor
            )));
        }
        if c.default_max_replicas < c.default_min_replicas {
            return Err(ConfigError::new(format!(
                "default_max_replicas={} is below default_min_replicas={}",
                c.default_max_replicas, c.default_min_replicas
            )));
        }
        if c.inactivity_duration < crate::policy::MIN_ZERO_DURATION {
            return Err(ConfigError::new(
                "inactivity_duration must be at least 1s".to_owned(),
            ));
        }
        if c.request_timeout.is_zero() {
            return Err(ConfigError::new(
                "request_timeout must be above 0".to_owned(),
            ));
        }
        if c.decision_history == 0 {
            return Err(ConfigError::new(
                "decision_history must be at least 1".to_owned(),
            ));
        }
        if c.faas_prometheus_host.trim().is_empty() {
            return Err(ConfigError::new(
                "faas_prometheus_host must not be empty".to_owned(),
            ));
        }
        Ok(c)
    }

    pub fn defaults(&self) -> Defaults {
        Defaults {
            min: self.default_min_replicas,
            max: self.default_max_replicas,
            factor: self.default_scaling_factor,
            zero_duration: self.inactivity_duration,
        }
    }

    /// The basic-auth credentials when `basic_auth` is on, read from `secret_mount_path`.
    pub fn credentials(&self) -> Result<Option<Credentials>, CredentialsError> {
        self.basic_auth
            .then(|| Credentials::read_from(&self.secret_mount_path))
            .transpose()
    }

    /// The provider client `main` hands to the application.
    pub fn http_provider(&self) -> Result<HttpProvider, anyhow::Error> {
        let credentials = self.credentials()?;
        let provider = HttpProvider::new(
            &self.functions_provider_url,
            credentials,
            self.request_timeout,
        )
        .map_err(|e: ProviderError| anyhow::anyhow!("functions_provider_url: {e}"))?;
        Ok(provider)
    }

    /// `http://<faas_prometheus_host>:<faas_prometheus_port>/`.
    pub fn prometheus_url(&self) -> String {
        format!(
            "http://{}:{}/",
            self.faas_prometheus_host, self.faas_prometheus_port
        )
    }
}

#[cfg(test)]
mod tests {
    use faas_provider::config::env_from;

    use super::*;

    #[test]
    fn defaults() {
        let c = Config::from_env(env_from([("functions_provider_url", "http://p:8080/")])).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.function_namespace, "openfaas-fn");
        assert_eq!(c.prometheus_url(), "http://prometheus:9090/");
        assert_eq!(c.reconcile_interval, Duration::from_secs(30));
        assert_eq!(c.defaults(), Defaults::default());
        assert!(!c.basic_auth);
        assert!(c.credentials().unwrap().is_none());
    }

    #[test]
    fn reads_every_variable() {
        let c = Config::from_env(env_from([
            ("functions_provider_url", "http://p:8080/"),
            ("port", "9000"),
            ("faas_prometheus_host", "127.0.0.1"),
            ("faas_prometheus_port", "19090"),
            ("reconcile_interval", "2s"),
            ("inactivity_duration", "5m"),
            ("default_min_replicas", "2"),
            ("default_max_replicas", "10"),
            ("default_scaling_factor", "50"),
            ("request_timeout", "1500ms"),
            ("decision_history", "5"),
            ("function_namespace", "fns"),
        ]))
        .unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.prometheus_url(), "http://127.0.0.1:19090/");
        assert_eq!(c.reconcile_interval, Duration::from_secs(2));
        assert_eq!(c.request_timeout, Duration::from_millis(1500));
        assert_eq!(
            c.defaults(),
            Defaults {
                min: 2,
                max: 10,
                factor: 50,
                zero_duration: Duration::from_secs(300)
            }
        );
        assert_eq!(c.decision_history, 5);
        assert_eq!(c.function_namespace, "fns");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "functions_provider_url"),
            (
                &[("functions_provider_url", "not a url")],
                "functions_provider_url",
            ),
            (&[("port", "x")], "port"),
            (&[("reconcile_interval", "often")], "reconcile_interval"),
            (&[("inactivity_duration", "0")], "inactivity_duration"),
            (
                &[("default_scaling_factor", "101")],
                "default_scaling_factor",
            ),
            (&[("default_max_replicas", "0")], "default_max_replicas"),
            (&[("default_min_replicas", "-1")], "default_min_replicas"),
            (&[("request_timeout", "0s")], "request_timeout"),
            (&[("decision_history", "0")], "decision_history"),
            (&[("basic_auth", "maybe")], "basic_auth"),
            (&[("faas_prometheus_host", " ")], "faas_prometheus_host"),
        ];
        for (pairs, var) in cases {
            let mut env = vec![("functions_provider_url", "http://p:8080/")];
            if pairs.is_empty() {
                env.clear();
            }
            env.extend_from_slice(pairs);
            let err = Config::from_env(env_from(env)).unwrap_err().to_string();
            assert!(err.contains(var), "{err:?} should name {var}");
        }
    }

    #[test]
    fn missing_secret_is_named() {
        let c = Config::from_env(env_from([
            ("functions_provider_url", "http://p:8080/"),
            ("basic_auth", "true"),
            ("secret_mount_path", "/nonexistent-alert-scaler"),
        ]))
        .unwrap();
        let err = c.credentials().unwrap_err().to_string();
        assert!(err.contains("basic-auth-user"), "{err}");
    }
}
