//! FunctionStatus: one function as list and get report it (CONTRACT.md §1.5.2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{FunctionResources, StringMap};
use crate::name::FunctionName;
use crate::serde_util::null_as_default;

/// Emits the provider-sdk 0.15.1 core fields always and the modern (§6.12) fields when set, so
/// both old and new clients decode it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionStatus {
    pub name: FunctionName,
    #[serde(default, deserialize_with = "null_as_default")]
    pub image: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub invocation_count: f64,
    /// Desired replicas.
    #[serde(default, deserialize_with = "null_as_default")]
    pub replicas: u64,
    /// Replicas running and ready.
    #[serde(default, deserialize_with = "null_as_default")]
    pub available_replicas: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub env_process: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub labels: StringMap,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub annotations: StringMap,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub env_vars: StringMap,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub constraints: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<FunctionResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<FunctionResources>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub read_only_root_filesystem: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<FunctionUsage>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUsage {
    #[serde(default)]
    pub cpu: f64,
    #[serde(default)]
    pub total_memory_bytes: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_faas_swarm_status() {
        // faas-swarm: no namespace, null annotations, availableReplicas 0 in the list.
        let json = r#"{"name":"nodeinfo","image":"functions/nodeinfo:latest","invocationCount":0,"replicas":1,"envProcess":"node main.js","availableReplicas":0,"labels":{"com.openfaas.function":"nodeinfo","function":"true"},"annotations":null}"#;
        let s: FunctionStatus = serde_json::from_str(json).unwrap();
        assert_eq!(s.replicas, 1);
        assert!(s.annotations.is_empty());
        assert_eq!(s.created_at, None);
    }

    #[test]
    fn decodes_modern_status_with_omitted_counts() {
        let json = r#"{"name":"figlet","image":"docker.io/functions/figlet:latest","namespace":"openfaas-fn","envVars":{"a":"b"},"secrets":["s"],"limits":{"memory":"128Mi","cpu":"100m"},"readOnlyRootFilesystem":true,"createdAt":"2020-12-10T13:23:56.123456789Z","usage":{"cpu":0.5,"totalMemoryBytes":1024}}"#;
        let s: FunctionStatus = serde_json::from_str(json).unwrap();
        assert_eq!(s.replicas, 0);
        assert_eq!(s.available_replicas, 0);
        assert_eq!(
            s.created_at
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "2020-12-10T13:23:56.123456789Z"
        );
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["createdAt"], "2020-12-10T13:23:56.123456789Z");
        assert_eq!(back["replicas"], 0);
        assert_eq!(back["limits"]["cpu"], "100m");
    }
}
