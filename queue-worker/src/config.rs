//! The worker's configuration: OpenFaaS's queue-worker variables (CONTRACT.md §5.5, §5.9),
//! read from the environment; a bad value fails here, naming the variable.

use std::path::PathBuf;
use std::time::Duration;

use faas_provider::auth::Credentials;
use faas_provider::config::{self, ConfigError, Env};
use faas_provider::duration;
use faas_provider::queue::QueueName;
use serde::{Deserialize, Deserializer};

use crate::retry::{parse_codes, RetryPolicy};

#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// NATS host.
    #[serde(default = "defaults::nats_address")]
    pub faas_nats_address: String,
    #[serde(default = "defaults::nats_port")]
    pub faas_nats_port: u16,
    /// Gateway host: calls go through `http://<gateway>/function/<name>` when
    /// `gateway_invoke` is on, and `/system/async-report` is sent there when it is off.
    #[serde(default = "defaults::gateway_address")]
    pub faas_gateway_address: String,
    #[serde(default = "defaults::gateway_port")]
    pub faas_gateway_port: u16,
    /// Through the gateway (default), or straight to a ready replica found through the
    /// provider's `GET /system/endpoints/<name>`.
    #[serde(default = "defaults::yes")]
    pub gateway_invoke: bool,
    /// The provider, for `gateway_invoke=false`.
    #[serde(default)]
    pub functions_provider_url: Option<String>,
    /// Concurrent calls per worker; values below 1 mean 1, as in OpenFaaS.
    #[serde(default = "defaults::max_inflight")]
    pub max_inflight: i64,
    /// How long JetStream waits for an ack before redelivering; long calls send progress
    /// acks every third of it, so this bounds how fast a dead worker's calls come back.
    #[serde(
        default = "defaults::ack_wait",
        deserialize_with = "duration::deserialize"
    )]
    pub ack_wait: Duration,
    /// Attempts in all (the first call counts) before a call goes to the dead-letter stream.
    #[serde(default = "defaults::max_retry_attempts")]
    pub max_retry_attempts: u32,
    #[serde(
        default = "defaults::initial_retry_wait",
        deserialize_with = "duration::deserialize"
    )]
    pub initial_retry_wait: Duration,
    #[serde(
        default = "defaults::max_retry_wait",
        deserialize_with = "duration::deserialize"
    )]
    pub max_retry_wait: Duration,
    /// Statuses retried, comma-separated.
    #[serde(
        default = "defaults::retry_http_codes",
        deserialize_with = "deserialize_codes"
    )]
    pub retry_http_codes: Vec<u16>,
    /// Send basic auth (read from `secret_mount_path`) to the provider and to
    /// `/system/async-report`.
    #[serde(default)]
    pub basic_auth: bool,
    #[serde(default = "defaults::secret_mount_path")]
    pub secret_mount_path: PathBuf,
    /// The queue this worker consumes (`com.openfaas.queue` value); empty: the default queue.
    #[serde(default)]
    pub queue: String,
    /// Port of `/healthz` and `/metrics`.
    #[serde(default = "defaults::port")]
    pub port: u16,
    /// Bound on one call to a function (ironfaas; OpenFaaS has none and a hung function
    /// holds a slot for ever).
    #[serde(
        default = "defaults::upstream_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub upstream_timeout: Duration,
    /// Attempts in all to deliver one callback.
    #[serde(default = "defaults::callback_max_attempts")]
    pub callback_max_attempts: u32,
    /// Wait before the first callback retry; it doubles up to `max_retry_wait`.
    #[serde(
        default = "defaults::callback_retry_wait",
        deserialize_with = "duration::deserialize"
    )]
    pub callback_retry_wait: Duration,
    /// Bound on one callback attempt.
    #[serde(
        default = "defaults::callback_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub callback_timeout: Duration,
    /// On SIGTERM, how long in-flight calls may run before they are handed back to NATS.
    #[serde(
        default = "defaults::shutdown_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub shutdown_timeout: Duration,
    #[serde(default)]
    pub write_debug: bool,
    /// Read from `secret_mount_path` when `basic_auth` is on.
    #[serde(skip)]
    pub credentials: Option<Credentials>,
}

mod defaults {
    use std::path::PathBuf;
    use std::time::Duration;

    pub fn nats_address() -> String {
        "nats".into()
    }
    pub fn nats_port() -> u16 {
        4222
    }
    pub fn gateway_address() -> String {
        "gateway".into()
    }
    pub fn gateway_port() -> u16 {
        8080
    }
    pub fn yes() -> bool {
        true
    }
    pub fn max_inflight() -> i64 {
        1
    }
    pub fn ack_wait() -> Duration {
        Duration::from_secs(30)
    }
    pub fn max_retry_attempts() -> u32 {
        100
    }
    pub fn initial_retry_wait() -> Duration {
        Duration::from_secs(10)
    }
    pub fn max_retry_wait() -> Duration {
        Duration::from_secs(120)
    }
    pub fn retry_http_codes() -> Vec<u16> {
        vec![408, 429, 500, 502, 503, 504]
    }
    pub fn secret_mount_path() -> PathBuf {
        "/run/secrets/".into()
    }
    pub fn port() -> u16 {
        8080
    }
    pub fn upstream_timeout() -> Duration {
        Duration::from_secs(300)
    }
    pub fn callback_max_attempts() -> u32 {
        5
    }
    pub fn callback_retry_wait() -> Duration {
        Duration::from_secs(1)
    }
    pub fn callback_timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub fn shutdown_timeout() -> Duration {
        Duration::from_secs(8)
    }
}

fn deserialize_codes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(u64),
        List(String),
    }
    match Raw::deserialize(d)? {
        Raw::One(n) => parse_codes(&n.to_string()),
        Raw::List(s) => parse_codes(&s),
    }
    .map_err(|e| serde::de::Error::custom(format!("retry_http_codes: {e}")))
}

impl Config {
    /// Loads and checks the configuration; `env` is the process's when `None`.
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let mut c: Config = config::load(env)?;
        c.queue_name()?;
        if c.ack_wait < Duration::from_secs(1) {
            return Err(ConfigError::new("ack_wait must be at least 1s"));
        }
        if c.initial_retry_wait > c.max_retry_wait {
            return Err(ConfigError::new(
                "initial_retry_wait must not exceed max_retry_wait",
            ));
        }
        if !c.gateway_invoke && c.functions_provider_url.is_none() {
            return Err(ConfigError::new(
                "functions_provider_url is required when gateway_invoke=false",
            ));
        }
        if c.basic_auth {
            let creds = Credentials::read_from(&c.secret_mount_path)
                .map_err(|e| ConfigError::new(format!("secret_mount_path: {e}")))?;
            c.credentials = Some(creds);
        }
        Ok(c)
    }

    pub fn queue_name(&self) -> Result<QueueName, ConfigError> {
        QueueName::parse(&self.queue).map_err(|e| ConfigError::new(format!("queue: {e}")))
    }

    pub fn nats_url(&self) -> String {
        faas_provider::queue::nats_url(&self.faas_nats_address, self.faas_nats_port)
    }

    pub fn gateway_url(&self) -> String {
        format!(
            "http://{}:{}",
            self.faas_gateway_address, self.faas_gateway_port
        )
    }

    pub fn max_inflight(&self) -> usize {
        usize::try_from(self.max_inflight.max(1)).unwrap_or(1)
    }

    /// The default retry policy; functions' annotations may override parts of it.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_retry_attempts.max(1),
            codes: self.retry_http_codes.clone(),
            min_wait: self.initial_retry_wait,
            max_wait: self.max_retry_wait,
        }
    }

    /// How callbacks are retried: statuses as calls, with their own attempts and first wait.
    pub fn callback_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.callback_max_attempts.max(1),
            codes: vec![408, 429, 500, 502, 503, 504],
            min_wait: self.callback_retry_wait,
            max_wait: self.max_retry_wait.max(self.callback_retry_wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use faas_provider::config::env_from;

    use super::*;

    #[test]
    fn defaults_follow_openfaas() {
        let c = Config::from_env(env_from([])).unwrap();
        assert_eq!(c.nats_url(), "nats://nats:4222");
        assert_eq!(c.gateway_url(), "http://gateway:8080");
        assert!(c.gateway_invoke);
        assert_eq!(c.max_inflight(), 1);
        assert_eq!(c.ack_wait, Duration::from_secs(30));
        assert_eq!(c.retry_http_codes, vec![408, 429, 500, 502, 503, 504]);
        assert_eq!(c.max_retry_attempts, 100);
        assert!(c.queue_name().unwrap().is_default());
    }

    #[test]
    fn values_are_read() {
        let c = Config::from_env(env_from([
            ("faas_nats_address", "127.0.0.1"),
            ("faas_nats_port", "4333"),
            ("max_inflight", "-3"),
            ("ack_wait", "5m5s"),
            ("retry_http_codes", "429, 503"),
            ("gateway_invoke", "false"),
            ("functions_provider_url", "http://provider:8080/"),
            ("queue", "slow"),
        ]))
        .unwrap();
        assert_eq!(c.nats_url(), "nats://127.0.0.1:4333");
        assert_eq!(c.max_inflight(), 1);
        assert_eq!(c.ack_wait, Duration::from_secs(305));
        assert_eq!(c.retry_http_codes, vec![429, 503]);
        assert_eq!(c.queue_name().unwrap().as_str(), "slow");
        let c = Config::from_env(env_from([("retry_http_codes", "429")])).unwrap();
        assert_eq!(c.retry_http_codes, vec![429]);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            (vec![("faas_nats_port", "x")], "faas_nats_port"),
            (vec![("ack_wait", "5x")], "ack_wait"),
            (vec![("ack_wait", "100ms")], "ack_wait"),
            (vec![("retry_http_codes", "429,abc")], "retry_http_codes"),
            (vec![("retry_http_codes", "99")], "retry_http_codes"),
            (vec![("queue", "a.b")], "queue"),
            (vec![("gateway_invoke", "false")], "functions_provider_url"),
            (
                vec![("initial_retry_wait", "5m"), ("max_retry_wait", "1m")],
                "initial_retry_wait",
            ),
            (
                vec![
                    ("basic_auth", "true"),
                    ("secret_mount_path", "/nonexistent"),
                ],
                "secret_mount_path",
            ),
        ];
        for (env, var) in cases {
            let err = Config::from_env(env_from(env)).unwrap_err().to_string();
            assert!(err.contains(var), "{err:?} should name {var}");
        }
    }
}
