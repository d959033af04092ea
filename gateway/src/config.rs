//! Gateway configuration: the OpenFaaS gateway variables (CONTRACT.md §1.2), validated.

use std::path::PathBuf;
use std::time::Duration;

use faas_provider::auth::Credentials;
use faas_provider::config::{self, ConfigError, Env};
use faas_provider::{duration, FunctionName, DEFAULT_NAMESPACE};
use serde::Deserialize;

/// The variables as read, before validation. Field names are the OpenFaaS names.
#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_metrics_port")]
    metrics_port: u16,
    #[serde(default)]
    workers: usize,
    #[serde(
        default = "default_read_timeout",
        deserialize_with = "duration::deserialize"
    )]
    read_timeout: Duration,
    #[serde(
        default = "default_write_timeout",
        deserialize_with = "duration::deserialize"
    )]
    write_timeout: Duration,
    #[serde(
        default = "default_upstream_timeout",
        deserialize_with = "duration::deserialize"
    )]
    upstream_timeout: Duration,
    #[serde(default)]
    functions_provider_url: Option<String>,
    #[serde(default)]
    logs_provider_url: Option<String>,
    #[serde(default)]
    faas_nats_address: Option<String>,
    #[serde(default)]
    faas_nats_port: Option<u16>,
    #[serde(default = "default_nats_cluster_name")]
    faas_nats_cluster_name: String,
    #[serde(default = "default_nats_channel")]
    faas_nats_channel: String,
    #[serde(default = "default_prometheus_host")]
    faas_prometheus_host: String,
    #[serde(default = "default_prometheus_port")]
    faas_prometheus_port: u16,
    #[serde(default)]
    direct_functions: bool,
    #[serde(default)]
    direct_functions_suffix: String,
    #[serde(default)]
    basic_auth: bool,
    #[serde(default = "default_secret_mount_path")]
    secret_mount_path: PathBuf,
    #[serde(default = "default_true")]
    scale_from_zero: bool,
    #[serde(default = "default_max_conns")]
    max_idle_conns: usize,
    #[serde(default = "default_max_conns")]
    max_idle_conns_per_host: usize,
    #[serde(default)]
    auth_proxy_url: String,
    #[serde(default)]
    auth_proxy_pass_body: bool,
    #[serde(default)]
    function_namespace: String,
    #[serde(default)]
    write_request_uri: Option<String>,
    #[serde(default)]
    write_debug: bool,
    #[serde(default)]
    alert_scaler_url: Option<String>,
    #[serde(default = "default_max_async_body")]
    max_async_body: usize,
}

fn default_port() -> u16 {
    8080
}
fn default_metrics_port() -> u16 {
    8082
}
/// 65 s: a little above `upstream_timeout`, so a slow function gets a 504, not a cut connection.
fn default_read_timeout() -> Duration {
    Duration::from_secs(65)
}
fn default_write_timeout() -> Duration {
    Duration::from_secs(65)
}
fn default_upstream_timeout() -> Duration {
    Duration::from_secs(60)
}
/// 512 KiB: base64 in the queued JSON grows a body by a third, and NATS's default
/// `max_payload` is 1 MiB.
fn default_max_async_body() -> usize {
    512 * 1024
}
fn default_nats_cluster_name() -> String {
    "faas-cluster".into()
}
fn default_nats_channel() -> String {
    "faas-request".into()
}
fn default_prometheus_host() -> String {
    "prometheus".into()
}
fn default_prometheus_port() -> u16 {
    9090
}
fn default_secret_mount_path() -> PathBuf {
    PathBuf::from("/run/secrets/")
}
fn default_true() -> bool {
    true
}
fn default_max_conns() -> usize {
    1024
}

/// NATS settings for `/async-function` (issue 6); parsed and checked here so a bad value stops
/// the start-up like every other variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConfig {
    pub address: String,
    pub port: u16,
    pub cluster_name: String,
    pub channel: String,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Main listener (`/function/*`, `/system/*`, `/ui/`, `/healthz`); 0 picks a free port.
    pub port: u16,
    /// `/metrics` and `/healthz` listener; 0 picks a free port.
    pub metrics_port: u16,
    /// Worker threads of the main listener; `None`: one per CPU.
    pub workers: Option<usize>,
    /// Time allowed to receive a request's head.
    pub read_timeout: Duration,
    /// Deadline for a whole response, body included, counted from the request's arrival.
    pub write_timeout: Duration,
    /// Time allowed for a function to answer (response head), and for a cold start.
    pub upstream_timeout: Duration,
    pub functions_provider_url: url::Url,
    pub logs_provider_url: url::Url,
    pub nats: Option<NatsConfig>,
    pub prometheus_host: String,
    pub prometheus_port: u16,
    /// The gateway's credentials: checked on `/system/*` and `/ui/`, sent to the provider.
    pub credentials: Option<Credentials>,
    pub scale_from_zero: bool,
    /// Upper bound of simultaneous upstream connections per worker thread (0: unbounded).
    pub max_conns: usize,
    pub function_namespace: String,
    /// Log every forwarded URL (set when `write_request_uri` exists, as OpenFaaS does).
    pub write_request_uri: bool,
    pub write_debug: bool,
    /// Where `/system/alert` and `/system/scaling-decisions` are forwarded (the alert-scaler).
    pub alert_scaler_url: Option<url::Url>,
    /// Largest `/async-function` body accepted; larger ones get 413.
    pub max_async_body: usize,
}

impl Config {
    /// Reads and validates the configuration; basic-auth files are read here when
    /// `basic_auth=true`. Every error names the variable.
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let raw: RawConfig = config::load(env)?;
        let provider_url = raw
            .functions_provider_url
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "functions_provider_url is required: you must provide an external provider via the 'functions_provider_url' env-var, e.g. http://provider:8080/",
                )
            })?;
        let functions_provider_url = parse_url("functions_provider_url", &provider_url)?;
        let logs_provider_url = match raw.logs_provider_url.filter(|u| !u.trim().is_empty()) {
            Some(u) => parse_url("logs_provider_url", &u)?,
            None => functions_provider_url.clone(),
        };
        if raw.upstream_timeout.is_zero() {
            return Err(ConfigError::new("upstream_timeout must be greater than 0"));
        }
        for (name, value) in [
            ("read_timeout", raw.read_timeout),
            ("write_timeout", raw.write_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(format!("{name} must be greater than 0")));
            }
        }
        let nats = match (
            raw.faas_nats_address.filter(|a| !a.is_empty()),
            raw.faas_nats_port,
        ) {
            (Some(address), Some(port)) => Some(NatsConfig {
                address,
                port,
                cluster_name: raw.faas_nats_cluster_name,
                channel: raw.faas_nats_channel,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "faas_nats_port is required when faas_nats_address is set",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "faas_nats_address is required when faas_nats_port is set",
                ))
            }
        };
        let function_namespace = if raw.function_namespace.trim().is_empty() {
            DEFAULT_NAMESPACE.to_owned()
        } else {
            let ns = raw.function_namespace.trim();
            FunctionName::parse(ns).map_err(|e| {
                ConfigError::new(format!("function_namespace {ns:?} is invalid: {e}"))
            })?;
            ns.to_owned()
        };
        let credentials = if raw.basic_auth {
            if raw.secret_mount_path.as_os_str().is_empty() {
                return Err(ConfigError::new(
                    "secret_mount_path is empty but basic_auth=true needs it",
                ));
            }
            Some(
                Credentials::read_from(&raw.secret_mount_path)
                    .map_err(|e| ConfigError::new(format!("secret_mount_path: {e}")))?,
            )
        } else {
            None
        };
        if raw.direct_functions {
            tracing::warn!(
                direct_functions_suffix = %raw.direct_functions_suffix,
                "direct_functions is ignored: the gateway balances calls over the provider's ready endpoints"
            );
        }
        if !raw.auth_proxy_url.is_empty() || raw.auth_proxy_pass_body {
            tracing::warn!(
                "auth_proxy_url is ignored: basic_auth is checked by the gateway itself"
            );
        }
        if raw.upstream_timeout >= raw.write_timeout {
            tracing::warn!(
                upstream_timeout = ?raw.upstream_timeout,
                write_timeout = ?raw.write_timeout,
                "upstream_timeout should be below write_timeout so slow functions get a 504"
            );
        }
        let alert_scaler_url = match raw.alert_scaler_url.filter(|u| !u.trim().is_empty()) {
            Some(u) => Some(parse_url("alert_scaler_url", &u)?),
            None => None,
        };
        if raw.max_async_body == 0 {
            return Err(ConfigError::new("max_async_body must be greater than 0"));
        }
        Ok(Self {
            alert_scaler_url,
            max_async_body: raw.max_async_body,
            port: raw.port,
            metrics_port: raw.metrics_port,
            workers: (raw.workers > 0).then_some(raw.workers),
            read_timeout: raw.read_timeout,
            write_timeout: raw.write_timeout,
            upstream_timeout: raw.upstream_timeout,
            functions_provider_url,
            logs_provider_url,
            nats,
            prometheus_host: raw.faas_prometheus_host,
            prometheus_port: raw.faas_prometheus_port,
            credentials,
            scale_from_zero: raw.scale_from_zero,
            // One pool bound; Go's per-host idle limit has no awc counterpart.
            max_conns: raw.max_idle_conns.max(raw.max_idle_conns_per_host),
            function_namespace,
            write_request_uri: raw.write_request_uri.is_some(),
            write_debug: raw.write_debug,
        })
    }
}

fn parse_url(variable: &str, value: &str) -> Result<url::Url, ConfigError> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| ConfigError::new(format!("{variable} {value:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(format!(
            "{variable} {value:?} must be an http(s) URL with a host, e.g. http://provider:8080/"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use faas_provider::config::env_from;

    use super::*;

    const URL: (&str, &str) = ("functions_provider_url", "http://provider:8081/");

    #[test]
    fn defaults() {
        let c = Config::from_env(env_from([URL])).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.metrics_port, 8082);
        assert_eq!(c.workers, None);
        assert_eq!(c.upstream_timeout, Duration::from_secs(60));
        assert!(c.upstream_timeout < c.write_timeout);
        assert_eq!(c.logs_provider_url, c.functions_provider_url);
        assert_eq!(c.function_namespace, "openfaas-fn");
        assert!(c.scale_from_zero);
        assert!(c.credentials.is_none());
        assert!(c.nats.is_none());
        assert_eq!(c.prometheus_host, "prometheus");
        assert_eq!(c.prometheus_port, 9090);
        assert_eq!(c.max_conns, 1024);
        assert!(!c.write_request_uri);
    }

    #[test]
    fn reads_openfaas_values() {
        let c = Config::from_env(env_from([
            URL,
            ("read_timeout", "5m5s"),
            ("write_timeout", "305"),
            ("upstream_timeout", "5m"),
            ("logs_provider_url", "http://logs:8080/"),
            ("faas_nats_address", "nats"),
            ("faas_nats_port", "4222"),
            ("scale_from_zero", "false"),
            ("function_namespace", ""),
            ("write_request_uri", ""),
        ]))
        .unwrap();
        assert_eq!(c.read_timeout, Duration::from_secs(305));
        assert_eq!(c.write_timeout, Duration::from_secs(305));
        assert_eq!(c.upstream_timeout, Duration::from_secs(300));
        assert_eq!(c.logs_provider_url.as_str(), "http://logs:8080/");
        assert_eq!(c.nats.unwrap().channel, "faas-request");
        assert!(!c.scale_from_zero);
        assert_eq!(c.function_namespace, "openfaas-fn");
        assert!(c.write_request_uri);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![], "functions_provider_url"),
            (
                vec![("functions_provider_url", "")],
                "functions_provider_url",
            ),
            (
                vec![("functions_provider_url", "not a url")],
                "functions_provider_url",
            ),
            (
                vec![("functions_provider_url", "ftp://x/")],
                "functions_provider_url",
            ),
            (vec![URL, ("logs_provider_url", "::")], "logs_provider_url"),
            (vec![URL, ("upstream_timeout", "5x")], "upstream_timeout"),
            (vec![URL, ("upstream_timeout", "0")], "upstream_timeout"),
            (vec![URL, ("read_timeout", "-1")], "read_timeout"),
            (vec![URL, ("write_timeout", "0s")], "write_timeout"),
            (vec![URL, ("port", "http")], "port"),
            (vec![URL, ("metrics_port", "70000")], "metrics_port"),
            (vec![URL, ("workers", "many")], "workers"),
            (vec![URL, ("faas_nats_port", "x")], "faas_nats_port"),
            (vec![URL, ("faas_nats_address", "nats")], "faas_nats_port"),
            (
                vec![URL, ("faas_prometheus_port", "p")],
                "faas_prometheus_port",
            ),
            (vec![URL, ("basic_auth", "yes")], "basic_auth"),
            (vec![URL, ("scale_from_zero", "1x")], "scale_from_zero"),
            (
                vec![URL, ("function_namespace", "Bad_NS")],
                "function_namespace",
            ),
            (vec![URL, ("max_idle_conns", "-5")], "max_idle_conns"),
            (
                vec![
                    URL,
                    ("basic_auth", "true"),
                    ("secret_mount_path", "/nonexistent-dir"),
                ],
                "secret_mount_path",
            ),
        ];
        for (env, var) in cases {
            let err = Config::from_env(env_from(env.clone()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(var), "{env:?}: {err:?} should name {var}");
        }
    }

    #[test]
    fn reads_credentials_when_basic_auth_is_on() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("basic-auth-user"), "admin\n").unwrap();
        std::fs::write(dir.path().join("basic-auth-password"), "pw\n").unwrap();
        let path = dir.path().to_str().unwrap();
        let c = Config::from_env(env_from([
            URL,
            ("basic_auth", "true"),
            ("secret_mount_path", path),
        ]))
        .unwrap();
        assert_eq!(c.credentials, Some(Credentials::new("admin", "pw")));
    }
}
