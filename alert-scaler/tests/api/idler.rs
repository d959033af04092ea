//! Scale to zero judged by a real Prometheus scraping a gateway metrics endpoint the test
//! drives: idle functions go to zero, never while calls are in flight, never too soon after a
//! deploy or a scale-up.

use std::time::{Duration, Instant};

use alert_scaler::decision::{Direction, Outcome, Trigger};
use alert_scaler::policy::{ZERO_DURATION_LABEL, ZERO_LABEL};
use e2e::prometheus::Prometheus;

use crate::helpers::{
    codes, eventually, prometheus_config, prometheus_count, shipped, spawn_app_on, spawn_provider,
    AppOptions, FakeGateway, Intervals, NO_ALERTMANAGER,
};

#[actix_rt::test]
async fn idle_functions_go_to_zero_but_not_in_flight_nor_too_soon() {
    let intervals = Intervals::from_env();
    let zero_duration =
        faas_provider::duration::parse(intervals.zero_duration).expect("zero-duration");
    let reconcile = faas_provider::duration::parse(intervals.reconcile).expect("reconcile");
    let scrape = faas_provider::duration::parse(intervals.scrape).expect("scrape");
    // Zero-duration, then up to a scrape and a reconcile late, with room for a slow machine.
    let bound = zero_duration + 4 * scrape + 3 * reconcile + Duration::from_secs(20);

    let provider = spawn_provider(None);
    let gateway = FakeGateway::start(&provider.memory);
    let prometheus = Prometheus::start(
        &prometheus_config(&gateway.address, NO_ALERTMANAGER, intervals),
        Some(&shipped("alert.rules.yml")),
    )
    .await;
    let app = spawn_app_on(
        provider,
        AppOptions {
            prometheus_port: Some(prometheus.port()),
            reconcile_interval: intervals.reconcile,
            ..AppOptions::default()
        },
    )
    .await;

    let zero = [
        (ZERO_LABEL, "true"),
        (ZERO_DURATION_LABEL, intervals.zero_duration),
    ];
    app.deploy("busy", &zero).await;
    app.deploy("sleepy", &zero).await;
    app.deploy(
        "fresh",
        &[(ZERO_LABEL, "true"), (ZERO_DURATION_LABEL, "1h")],
    )
    .await;
    app.deploy("awake", &[]).await;
    // `busy` has a call that never completes; `awake` is not opted in.
    gateway.set_in_flight("busy", 1);
    gateway.start_load("awake", 0.0);
    // The gateway labels `sleepy` with its namespace (function_namespace set).
    let sleepy = "sleepy.openfaas-fn";
    gateway.start_load(sleepy, 10.0);
    eventually(
        "Prometheus sees sleepy's calls",
        Duration::from_secs(30),
        || {
            let url = prometheus.url();
            async move {
                let query =
                    format!("gateway_function_invocation_total{{function_name=\"{sleepy}\"}} > 2");
                match prometheus_count(&url, &query).await? {
                    0 => Err("no calls scraped yet".to_owned()),
                    _ => Ok(()),
                }
            }
        },
    )
    .await;
    gateway.stop_load(sleepy);
    gateway.call(sleepy);
    let last_call = Instant::now();

    eventually("sleepy scaled to zero", bound, || {
        let app = &app;
        async move {
            match app.replicas("sleepy").await {
                0 => Ok(()),
                r => Err(format!(
                    "sleepy has {r} replicas; decisions {:?}",
                    codes(&app.decisions("sleepy").await)
                )),
            }
        }
    })
    .await;
    let last_call_to_zero = last_call.elapsed();
    assert!(
        last_call_to_zero >= zero_duration,
        "zeroed {last_call_to_zero:?} after the last call, before its zero-duration {zero_duration:?}"
    );
    let decision = &app.decisions("sleepy").await[0];
    assert_eq!(
        (decision.trigger, decision.outcome, decision.direction),
        (Trigger::Idle, Outcome::Applied, Direction::Down)
    );
    assert_eq!(
        (decision.replicas_before, decision.replicas_after),
        (Some(1), Some(0))
    );
    assert!(
        decision
            .reason
            .starts_with(&format!("no call for {}", intervals.zero_duration)),
        "{}",
        decision.reason
    );

    // By now `busy` has been idle by its completed calls for longer than its zero-duration:
    // only the call in flight holds it.
    eventually("busy held for its call in flight", bound, || {
        let app = &app;
        async move {
            let c = codes(&app.decisions("busy").await);
            if c.contains(&"idle_in_flight") {
                Ok(())
            } else {
                Err(format!("busy decisions {c:?}"))
            }
        }
    })
    .await;
    assert_eq!(app.replicas("busy").await, 1);
    let held = app
        .decisions("busy")
        .await
        .into_iter()
        .find(|d| d.code.as_str() == "idle_in_flight")
        .expect("held decision");
    assert!(held.reason.contains("1 in flight"), "{}", held.reason);
    assert_eq!(held.outcome, Outcome::NotTaken);

    // A zero-duration of 1h: Prometheus has not held an hour of the gateway's metrics, so
    // "no call" means "no data" here. Explained once, left alone.
    assert_eq!(
        codes(&app.decisions("fresh").await),
        vec!["idle_no_metrics"]
    );
    assert_eq!(app.replicas("fresh").await, 1);
    // Not opted in: nothing to explain.
    assert!(app.decisions("awake").await.is_empty());
    assert_eq!(app.replicas("awake").await, 1);

    // The call completes: `busy` goes to zero.
    gateway.set_in_flight("busy", 0);
    eventually(
        "busy scaled to zero once nothing is in flight",
        bound,
        || {
            let app = &app;
            async move {
                match app.replicas("busy").await {
                    0 => Ok(()),
                    r => Err(format!(
                        "busy has {r}; decisions {:?}",
                        codes(&app.decisions("busy").await)
                    )),
                }
            }
        },
    )
    .await;

    // Woken without a call (a manual scale; the gateway's scale from zero looks the same to
    // the idler): it gets a whole zero-duration before it is zeroed again.
    app.scale("sleepy", 1).await;
    let woken = Instant::now();
    eventually("sleepy zeroed again", bound, || {
        let app = &app;
        async move {
            match app.replicas("sleepy").await {
                0 => Ok(()),
                r => Err(format!(
                    "sleepy has {r}; decisions {:?}",
                    codes(&app.decisions("sleepy").await)
                )),
            }
        }
    })
    .await;
    let woken_to_zero = woken.elapsed();
    assert!(
        woken_to_zero >= zero_duration,
        "zeroed {woken_to_zero:?} after being woken, before its zero-duration {zero_duration:?}"
    );
    // Before Prometheus held a whole zero-duration of the gateway's metrics, the idler said
    // so ("idle_no_metrics"); then calls kept it awake, until the two zeroings.
    let sleepy_codes = codes(&app.decisions("sleepy").await);
    let (before, tail) = sleepy_codes.split_at(sleepy_codes.len().saturating_sub(3));
    assert_eq!(
        tail,
        ["idle", "idle_grace_period", "idle"],
        "{sleepy_codes:?}"
    );
    assert!(
        before.iter().all(|c| *c == "idle_no_metrics"),
        "{sleepy_codes:?}"
    );

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"alert_scaler_decisions_total{direction="down",reason="idle"} 3"#),
        "{metrics}"
    );
    println!(
        "AUTOSCALING idle last_call_to_zero_s={:.2} woken_to_zero_s={:.2} intervals=\"{}\"",
        last_call_to_zero.as_secs_f64(),
        woken_to_zero.as_secs_f64(),
        intervals.describe()
    );
}
