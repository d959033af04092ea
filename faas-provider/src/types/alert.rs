//! AlertManager's webhook payload as `POST /system/alert` receives it (CONTRACT.md §4.4).

use serde::{Deserialize, Serialize};

use super::StringMap;
use crate::serde_util::null_as_default;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertWebhook {
    #[serde(default, deserialize_with = "null_as_default")]
    pub receiver: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub alerts: Vec<Alert>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub group_labels: StringMap,
    #[serde(default, deserialize_with = "null_as_default")]
    pub common_labels: StringMap,
    #[serde(default, deserialize_with = "null_as_default")]
    pub common_annotations: StringMap,
    #[serde(rename = "externalURL", default, deserialize_with = "null_as_default")]
    pub external_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub group_key: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// `firing` or `resolved`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: StringMap,
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotations: StringMap,
    #[serde(default, deserialize_with = "null_as_default")]
    pub starts_at: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ends_at: String,
    #[serde(rename = "generatorURL", default, deserialize_with = "null_as_default")]
    pub generator_url: String,
}

impl Alert {
    pub fn is_firing(&self) -> bool {
        self.status == "firing"
    }

    /// The `function_name` label (`figlet` or `figlet.openfaas-fn`).
    pub fn function_name(&self) -> Option<&str> {
        self.labels
            .get("function_name")
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_alertmanager_sample() {
        let json = r#"{"receiver":"scale-up","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"APIHighInvocationRate","code":"200","function_name":"func_nodeinfo","instance":"gateway:8082","job":"gateway","monitor":"faas-monitor","service":"gateway","severity":"major","value":"8.998200359928017"},"annotations":{"description":"High invocation total on gateway:8082","summary":"High invocation total on gateway:8082"},"startsAt":"2017-03-15T02:28:39.1Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://4156cb797423:9090/graph"}],"groupLabels":{"alertname":"APIHighInvocationRate","service":"gateway"},"commonLabels":{"alertname":"APIHighInvocationRate"},"commonAnnotations":{},"externalURL":"http://f054879d97db:9093","version":"4","groupKey":"{}:{alertname=\"APIHighInvocationRate\"}","truncatedAlerts":0}"#;
        let w: AlertWebhook = serde_json::from_str(json).unwrap();
        assert_eq!(w.alerts.len(), 1);
        assert!(w.alerts[0].is_firing());
        assert_eq!(w.alerts[0].function_name(), Some("func_nodeinfo"));
    }
}
