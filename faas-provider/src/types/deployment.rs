//! FunctionDeployment: the body of POST/PUT `/system/functions` (CONTRACT.md §1.5.1).

use serde::{Deserialize, Serialize};

use super::StringMap;
use crate::name::FunctionName;
use crate::serde_util::null_as_default;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeployment {
    pub service: FunctionName,
    pub image: String,
    /// Swarm-era clients send `func_functions`; kept for compatibility, chosen by the provider.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub network: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub env_process: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub env_vars: StringMap,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub registry_auth: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<FunctionResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<FunctionResources>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub read_only_root_filesystem: bool,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
}

impl Default for FunctionName {
    /// Only so `..Default::default()` works in tests and builders; never valid on the wire.
    fn default() -> Self {
        FunctionName::parse("function").expect("a constant valid name")
    }
}

/// Memory and CPU as the user wrote them (`128Mi`, `1g`, `0.5`, `100m`); providers parse them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionResources {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub memory: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub cpu: String,
    #[serde(
        rename = "nvidia.com/gpu",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub nvidia_gpu: Option<String>,
    #[serde(
        rename = "amd.com/gpu",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub amd_gpu: Option<String>,
    #[serde(
        rename = "intel.com/gpu",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub intel_gpu: Option<String>,
}

impl FunctionResources {
    pub fn is_empty(&self) -> bool {
        self.memory.is_empty()
            && self.cpu.is_empty()
            && self.nvidia_gpu.is_none()
            && self.amd_gpu.is_none()
            && self.intel_gpu.is_none()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Swarm-era faas-cli sends (provider-sdk 0.15.1: nulls for empty collections).
    const GO_0_15: &str = r#"{"service":"nodeinfo","image":"functions/nodeinfo:latest","network":"func_functions","envProcess":"node main.js","envVars":null,"constraints":null,"secrets":null,"labels":null,"annotations":null,"limits":null,"requests":null,"readOnlyRootFilesystem":false}"#;

    #[test]
    fn null_absent_and_empty_are_the_same() {
        let from_null: FunctionDeployment = serde_json::from_str(GO_0_15).unwrap();
        let from_empty: FunctionDeployment = serde_json::from_str(
            r#"{"service":"nodeinfo","image":"functions/nodeinfo:latest","network":"func_functions","envProcess":"node main.js","envVars":{},"constraints":[],"secrets":[],"labels":{},"annotations":{}}"#,
        )
        .unwrap();
        let from_absent: FunctionDeployment = serde_json::from_str(
            r#"{"service":"nodeinfo","image":"functions/nodeinfo:latest","network":"func_functions","envProcess":"node main.js"}"#,
        )
        .unwrap();
        assert_eq!(from_null, from_empty);
        assert_eq!(from_null, from_absent);
        assert_eq!(from_null.env_process, "node main.js");
    }

    #[test]
    fn full_modern_body_round_trips() {
        let json = r#"{"service":"figlet","image":"docker.io/functions/alpine:latest","envProcess":"figlet","envVars":{"a":"1"},"constraints":["node.role == worker"],"secrets":["api-key"],"labels":{"com.openfaas.scale.min":"2"},"annotations":{"topic":"x"},"limits":{"memory":"128Mi","cpu":"100m"},"requests":{"memory":"64Mi","cpu":"0.5","nvidia.com/gpu":"1"},"readOnlyRootFilesystem":true,"namespace":"openfaas-fn"}"#;
        let d: FunctionDeployment = serde_json::from_str(json).unwrap();
        assert_eq!(d.limits.as_ref().unwrap().cpu, "100m");
        assert_eq!(
            d.requests.as_ref().unwrap().nvidia_gpu.as_deref(),
            Some("1")
        );
        let back: serde_json::Value = serde_json::to_value(&d).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }

    #[test]
    fn missing_image_names_the_field() {
        let err = serde_json::from_str::<FunctionDeployment>(r#"{"service":"a"}"#).unwrap_err();
        assert!(err.to_string().contains("image"), "{err}");
    }
}
