//! End to end with real `prometheus` and `prometheus-alertmanager` running the shipped rule
//! and route: more than 5 calls/s fire APIHighInvocationRate, AlertManager posts it to the
//! alert-scaler, replicas rise; the load stops, the resolved alert brings them back to min.

use std::time::{Duration, Instant};

use alert_scaler::decision::{Outcome, Trigger};
use e2e::prometheus::{Alertmanager, Prometheus};
use faas_provider::auth::PASSWORD_FILE;

use crate::helpers::{
    alertmanager_config, codes, eventually, gateway_scraped, prometheus_config, shipped, spawn_app,
    AppOptions, FakeGateway, Intervals,
};

#[actix_rt::test]
async fn high_invocation_rate_scales_up_and_resolved_returns_to_min() {
    let intervals = Intervals::from_env();
    let bound = Duration::from_secs(120);
    // AlertManager authenticates as `admin` with the password file, as shipped.
    let app = spawn_app(AppOptions {
        basic_auth: true,
        ..AppOptions::default()
    })
    .await;
    app.deploy("hot", &[]).await;
    app.deploy("warm", &[]).await;
    let gateway = FakeGateway::start(&app.provider.memory);
    let password_file = app.secrets.path().join(PASSWORD_FILE);
    let alertmanager = Alertmanager::start(&alertmanager_config(
        &format!("{}/system/alert", app.url),
        &password_file.display().to_string(),
        intervals,
    ))
    .await;
    let prometheus = Prometheus::start(
        &prometheus_config(&gateway.address, &alertmanager.target(), intervals),
        Some(&shipped("alert.rules.yml")),
    )
    .await;

    gateway_scraped(&prometheus.url()).await;

    // `warm` stays under the threshold of 5 calls/s; `hot` is well above it.
    gateway.start_load("warm", 2.0);
    gateway.start_load("hot", 20.0);
    let load_started = Instant::now();
    let replicas = eventually("hot scales up", bound, || {
        let app = &app;
        async move {
            match app.replicas("hot").await {
                r if r >= 2 => Ok(r),
                r => Err(format!(
                    "hot has {r} replicas; decisions {:?}",
                    codes(&app.decisions("hot").await)
                )),
            }
        }
    })
    .await;
    let load_to_scale_up = load_started.elapsed();
    assert_eq!(
        replicas, 5,
        "one firing notification adds ceil(20*20/100)=4"
    );

    gateway.stop_load("hot");
    let load_stopped = Instant::now();
    eventually("hot back to min", bound, || {
        let app = &app;
        async move {
            match app.replicas("hot").await {
                1 => Ok(()),
                r => Err(format!(
                    "hot has {r} replicas; decisions {:?}",
                    codes(&app.decisions("hot").await)
                )),
            }
        }
    })
    .await;
    let last_call_to_min = load_stopped.elapsed();

    let decisions = app.decisions("hot").await;
    let first = decisions.last().expect("a decision");
    assert_eq!(
        (first.trigger, first.outcome),
        (Trigger::AlertFiring, Outcome::Applied)
    );
    assert_eq!(first.alert.as_deref(), Some("APIHighInvocationRate"));
    assert_eq!(
        first.reason,
        "APIHighInvocationRate firing: 1 + ceil(20*20/100)=5 (max 20)"
    );
    let last = &decisions[0];
    assert_eq!(
        (last.trigger, last.outcome, last.code.as_str()),
        (Trigger::AlertResolved, Outcome::Applied, "resolved_to_min")
    );
    assert_eq!(app.replicas("warm").await, 1);
    assert!(app.decisions("warm").await.is_empty(), "warm never alerted");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"alert_scaler_alerts_received_total{status="resolved"}"#),
        "{metrics}"
    );
    println!(
        "AUTOSCALING alert load_to_scale_up_s={:.2} last_call_to_min_s={:.2} intervals=\"{}\"",
        load_to_scale_up.as_secs_f64(),
        last_call_to_min.as_secs_f64(),
        intervals.describe()
    );
}
