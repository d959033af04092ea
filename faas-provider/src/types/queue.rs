//! QueueRequest: an async invocation as published on the queue (CONTRACT.md §5.3), keys as Go
//! field names so Go producers and consumers interoperate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StringMap;
use crate::serde_util::{base64_bytes, null_as_default};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRequest {
    /// Canonical header names (`X-Call-Id`) to all their values.
    #[serde(rename = "Header", default, deserialize_with = "null_as_default")]
    pub header: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Host", default, deserialize_with = "null_as_default")]
    pub host: String,
    #[serde(rename = "Body", default, with = "base64_bytes")]
    pub body: Vec<u8>,
    #[serde(rename = "Method", default, deserialize_with = "null_as_default")]
    pub method: String,
    /// The path after `/async-function/<name>`: `""`, `/` or `/a/b`.
    #[serde(rename = "Path", default, deserialize_with = "null_as_default")]
    pub path: String,
    /// The raw query, without `?`.
    #[serde(rename = "QueryString", default, deserialize_with = "null_as_default")]
    pub query_string: String,
    /// As in the URL: `figlet` or `figlet.openfaas-fn`.
    #[serde(rename = "Function")]
    pub function: String,
    #[serde(rename = "QueueName", default, deserialize_with = "null_as_default")]
    pub queue_name: String,
    #[serde(rename = "CallbackUrl", default)]
    pub callback_url: Option<GoUrl>,
    #[serde(
        rename = "Annotations",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub annotations: StringMap,
    #[serde(
        rename = "Labels",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub labels: StringMap,
    #[serde(
        rename = "Environment",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "StringMap::is_empty"
    )]
    pub environment: StringMap,
}

impl QueueRequest {
    /// First value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// Go's `net/url.URL` as `encoding/json` writes it: field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoUrl {
    #[serde(rename = "Scheme", default, deserialize_with = "null_as_default")]
    pub scheme: String,
    #[serde(rename = "Opaque", default, deserialize_with = "null_as_default")]
    pub opaque: String,
    /// Go cannot marshal the user info (unexported fields): always `null` or `{}`.
    #[serde(rename = "User", default)]
    pub user: Option<serde_json::Value>,
    #[serde(rename = "Host", default, deserialize_with = "null_as_default")]
    pub host: String,
    #[serde(rename = "Path", default, deserialize_with = "null_as_default")]
    pub path: String,
    #[serde(rename = "RawPath", default, deserialize_with = "null_as_default")]
    pub raw_path: String,
    #[serde(rename = "ForceQuery", default, deserialize_with = "null_as_default")]
    pub force_query: bool,
    #[serde(rename = "RawQuery", default, deserialize_with = "null_as_default")]
    pub raw_query: String,
    #[serde(rename = "Fragment", default, deserialize_with = "null_as_default")]
    pub fragment: String,
    #[serde(rename = "RawFragment", default, deserialize_with = "null_as_default")]
    pub raw_fragment: String,
}

impl From<&url::Url> for GoUrl {
    fn from(u: &url::Url) -> Self {
        let host = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        };
        Self {
            scheme: u.scheme().to_owned(),
            host,
            path: u.path().to_owned(),
            raw_query: u.query().unwrap_or_default().to_owned(),
            fragment: u.fragment().unwrap_or_default().to_owned(),
            ..Default::default()
        }
    }
}

impl TryFrom<&GoUrl> for url::Url {
    type Error = url::ParseError;
    fn try_from(g: &GoUrl) -> Result<Self, Self::Error> {
        let mut s = format!("{}://{}{}", g.scheme, g.host, g.path);
        if !g.raw_query.is_empty() || g.force_query {
            s.push('?');
            s.push_str(&g.raw_query);
        }
        if !g.fragment.is_empty() {
            s.push('#');
            s.push_str(&g.fragment);
        }
        url::Url::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"Header":{"Content-Type":["text/plain"],"X-Call-Id":["eb82"],"X-Callback-Url":["http://cb:8888/"],"X-Start-Time":["1607600000000000000"]},"Host":"127.0.0.1:8080","Body":"SGk=","Method":"POST","Path":"","QueryString":"","Function":"figlet","QueueName":"","CallbackUrl":{"Scheme":"http","Opaque":"","User":null,"Host":"cb:8888","Path":"/","RawPath":"","ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}}"#;

    #[test]
    fn contract_sample_round_trips() {
        let q: QueueRequest = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(q.body, b"Hi");
        assert_eq!(q.header("x-call-id"), Some("eb82"));
        let cb = url::Url::try_from(q.callback_url.as_ref().unwrap()).unwrap();
        assert_eq!(cb.as_str(), "http://cb:8888/");
        let back: serde_json::Value = serde_json::to_value(&q).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(SAMPLE).unwrap()
        );
    }

    #[test]
    fn newer_go_keys_and_empty_body_are_accepted() {
        let q: QueueRequest = serde_json::from_str(
            r#"{"Header":null,"Body":"","Method":"POST","Function":"f","CallbackUrl":{"Scheme":"https","Host":"h","Path":"/x","RawQuery":"a=1","OmitHost":false,"User":{}}}"#,
        )
        .unwrap();
        assert!(q.body.is_empty());
        let cb = url::Url::try_from(q.callback_url.as_ref().unwrap()).unwrap();
        assert_eq!(cb.as_str(), "https://h/x?a=1");
        assert_eq!(GoUrl::from(&cb).raw_query, "a=1");
    }
}
