//! Secret: the body of `/system/secrets` (CONTRACT.md §1.5.3).

use serde::{Deserialize, Serialize};

use crate::serde_util::{base64_opt, null_as_default};

/// `value` is text, `rawValue` base64 bytes; list responses carry neither value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, with = "base64_opt", skip_serializing_if = "Option::is_none")]
    pub raw_value: Option<Vec<u8>>,
}

impl Secret {
    /// The secret's bytes: `rawValue` when given, else `value`.
    pub fn data(&self) -> Option<Vec<u8>> {
        self.raw_value
            .clone()
            .or_else(|| self.value.as_ref().map(|v| v.as_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_value_is_base64() {
        let s: Secret = serde_json::from_str(r#"{"name":"k","rawValue":"aGk="}"#).unwrap();
        assert_eq!(s.data().unwrap(), b"hi");
        let s: Secret = serde_json::from_str(r#"{"name":"k","value":"hi"}"#).unwrap();
        assert_eq!(s.data().unwrap(), b"hi");
        assert_eq!(
            serde_json::to_string(&Secret {
                name: "k".into(),
                raw_value: Some(b"hi".to_vec()),
                ..Default::default()
            })
            .unwrap(),
            r#"{"name":"k","rawValue":"aGk="}"#
        );
    }
}
