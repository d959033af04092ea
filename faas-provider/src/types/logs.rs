//! Log messages (NDJSON lines of `/system/logs`) and the query that asks for them (§1.6.7).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::name::FunctionName;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMessage {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub instance: String,
    pub timestamp: DateTime<Utc>,
    pub text: String,
}

/// `?name=&namespace=&instance=&tail=&follow=&since=`, already validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRequest {
    pub name: FunctionName,
    pub namespace: Option<String>,
    pub instance: Option<String>,
    /// At most this many lines from the end; `None` for all.
    pub tail: Option<u64>,
    pub follow: bool,
    pub since: Option<DateTime<Utc>>,
}

impl LogRequest {
    pub fn new(name: FunctionName) -> Self {
        Self {
            name,
            namespace: None,
            instance: None,
            tail: None,
            follow: false,
            since: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_round_trips_with_nanoseconds() {
        let json = r#"{"name":"figlet","namespace":"openfaas-fn","instance":"abc","timestamp":"2020-12-10T13:23:56.123456789Z","text":"hello"}"#;
        let m: LogMessage = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), json);
    }
}
