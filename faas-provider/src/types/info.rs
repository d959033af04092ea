//! ProviderInfo and GatewayInfo: `/system/info` of the provider and of the gateway (§1.5.3, §1.6.5).

use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub commit_message: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sha: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub release: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub provider: String,
    #[serde(default)]
    pub version: VersionInfo,
    #[serde(default, deserialize_with = "null_as_default")]
    pub orchestration: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    pub provider: ProviderInfo,
    pub version: VersionInfo,
    pub arch: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_info_matches_contract_shape() {
        let json = r#"{"provider":{"provider":"faas-swarm","version":{"sha":"abc","release":"0.9.0"},"orchestration":"swarm"},"version":{"commit_message":"msg","sha":"def","release":"0.20.0"},"arch":"amd64"}"#;
        let info: GatewayInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.provider.orchestration, "swarm");
        assert_eq!(serde_json::to_string(&info).unwrap(), json);
    }
}
