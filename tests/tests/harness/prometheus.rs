//! Real Prometheus and Alertmanager: both become ready, and an alert rule reaches Alertmanager.

use std::time::Duration;

use e2e::poll;
use e2e::prometheus::{Alertmanager, Prometheus};

const ALERTMANAGER_CONFIG: &str = "\
route:
  receiver: blackhole
receivers:
  - name: blackhole
";

const ALWAYS_FIRING: &str = "\
groups:
  - name: e2e
    rules:
      - alert: E2EAlwaysFiring
        expr: vector(1)
        labels:
          function_name: e2e
";

#[tokio::test]
async fn a_prometheus_rule_fires_into_alertmanager() {
    let alertmanager = Alertmanager::start(ALERTMANAGER_CONFIG).await;
    let config = format!(
        "\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [\"rules.yml\"]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [\"{}\"]
",
        alertmanager.target()
    );
    let prometheus = Prometheus::start(&config, Some(ALWAYS_FIRING)).await;
    let http = reqwest::Client::new();

    let rules: serde_json::Value = http
        .get(format!("{}/api/v1/rules", prometheus.url()))
        .send()
        .await
        .expect("Prometheus answers")
        .json()
        .await
        .expect("JSON rules");
    let alerts_url = format!("{}/api/v2/alerts", alertmanager.url());
    let alert = poll::until(
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let alerts: serde_json::Value = http
                .get(&alerts_url)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            alerts
                .as_array()
                .and_then(|all| {
                    all.iter()
                        .find(|a| a["labels"]["alertname"] == "E2EAlwaysFiring")
                })
                .cloned()
                .ok_or_else(|| format!("alerts: {alerts}"))
        },
    )
    .await
    .expect("the alert reaches Alertmanager");

    assert_eq!(
        rules["data"]["groups"][0]["rules"][0]["name"],
        "E2EAlwaysFiring"
    );
    assert_eq!(alert["labels"]["function_name"], "e2e");
}

#[tokio::test]
#[should_panic(expected = "prometheus did not become ready")]
async fn a_bad_config_fails_with_the_prometheus_log() {
    let _prometheus = Prometheus::start("scrape_configs: [ not valid", None).await;
}
