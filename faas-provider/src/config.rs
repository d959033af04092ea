//! Configuration from the environment through the `config` crate, with an injectable source.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

/// The environment a service reads its config from: the process's, or a map (tests).
pub type Env = Option<HashMap<String, String>>;

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// For checks a service makes after deserializing; name the variable in `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Deserializes `T` from environment variables whose names are `T`'s field names (the
/// OpenFaaS variable names, lowercase). Upper-case spellings are read too.
pub fn load<T: DeserializeOwned>(env: Env) -> Result<T, ConfigError> {
    config::Config::builder()
        .add_source(config::Environment::default().source(env))
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| ConfigError(e.to_string()))
}

/// Helper for tests: an environment from pairs.
pub fn env_from<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
    Some(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Sample {
        #[serde(default = "default_port")]
        port: u16,
        #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
        read_timeout: Option<Duration>,
        functions_provider_url: String,
        #[serde(default)]
        basic_auth: bool,
    }

    fn default_port() -> u16 {
        8080
    }

    #[test]
    fn reads_openfaas_names_and_durations() {
        let s: Sample = load(env_from([
            ("functions_provider_url", "http://p:8080/"),
            ("read_timeout", "5m5s"),
            ("basic_auth", "true"),
        ]))
        .unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.read_timeout, Some(Duration::from_secs(305)));
        assert!(s.basic_auth);
        let s: Sample = load(env_from([
            ("FUNCTIONS_PROVIDER_URL", "http://p:8080/"),
            ("read_timeout", "60"),
        ]))
        .unwrap();
        assert_eq!(s.read_timeout, Some(Duration::from_secs(60)));
        assert_eq!(s.functions_provider_url, "http://p:8080/");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            (vec![], "functions_provider_url"),
            (
                vec![("functions_provider_url", "x"), ("port", "abc")],
                "port",
            ),
            (
                vec![("functions_provider_url", "x"), ("read_timeout", "5x")],
                "read_timeout",
            ),
            (
                vec![("functions_provider_url", "x"), ("basic_auth", "maybe")],
                "basic_auth",
            ),
        ];
        for (env, var) in cases {
            let err = load::<Sample>(env_from(env)).unwrap_err().to_string();
            assert!(err.contains(var), "{err:?} should name {var}");
        }
    }
}
