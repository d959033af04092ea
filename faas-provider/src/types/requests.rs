//! Small request bodies: scale (`/system/scale-function/{name}`) and delete (`/system/functions`).

use serde::{Deserialize, Serialize};

use crate::name::FunctionName;
use crate::serde_util::null_as_default;

/// `{"serviceName": "figlet", "replicas": 2}`. The name in the URL wins over `serviceName`
/// (as in faas-swarm), and the Swarm-era certifier's `service` key is accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleServiceRequest {
    #[serde(default, alias = "service", deserialize_with = "null_as_default")]
    pub service_name: String,
    pub replicas: u64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
}

/// `{"functionName": "figlet", "namespace"?: "openfaas-fn"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFunctionRequest {
    pub function_name: FunctionName,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_accepts_both_key_spellings() {
        let a: ScaleServiceRequest =
            serde_json::from_str(r#"{"serviceName":"figlet","replicas":2}"#).unwrap();
        let b: ScaleServiceRequest =
            serde_json::from_str(r#"{"service":"figlet","replicas":2}"#).unwrap();
        assert_eq!(a, b);
        let err = serde_json::from_str::<ScaleServiceRequest>(r#"{"serviceName":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("replicas"), "{err}");
        assert!(serde_json::from_str::<ScaleServiceRequest>(r#"{"replicas":-1}"#).is_err());
    }

    #[test]
    fn delete_round_trips() {
        let json = r#"{"functionName":"figlet","namespace":"openfaas-fn"}"#;
        let d: DeleteFunctionRequest = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), json);
        assert!(serde_json::from_str::<DeleteFunctionRequest>(r#"{"functionName":""}"#).is_err());
    }
}
