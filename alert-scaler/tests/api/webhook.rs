//! `POST /system/alert` against the provider API over HTTP: scaling, errors, bad bodies.

use alert_scaler::decision::{Direction, Outcome, Trigger};
use alert_scaler::policy::{FACTOR_LABEL, MAX_LABEL, MIN_LABEL};

use crate::helpers::{codes, spawn_app, AppOptions, BROKEN};

#[actix_rt::test]
async fn firing_adds_a_step_up_to_max_and_resolved_returns_to_min() {
    let app = spawn_app(AppOptions::default()).await;
    app.deploy("hot", &[]).await;

    // Defaults max 20, factor 20: step 4 per notification, no cap at 5.
    let mut seen = vec![app.replicas("hot").await];
    for _ in 0..6 {
        let (status, body) = app.alert(&[("firing", Some("hot"))]).await;
        assert_eq!((status, body.as_str()), (200, ""));
        seen.push(app.replicas("hot").await);
    }
    assert_eq!(seen, vec![1, 5, 9, 13, 17, 20, 20]);

    let (status, body) = app.alert(&[("resolved", Some("hot"))]).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(app.replicas("hot").await, 1);

    let decisions = app.decisions("hot").await;
    assert_eq!(
        codes(&decisions),
        vec![
            "firing_step",
            "firing_step",
            "firing_step",
            "firing_step",
            "firing_capped",
            "firing_at_max",
            "resolved_to_min"
        ]
    );
    let newest = &decisions[0];
    assert_eq!(newest.trigger, Trigger::AlertResolved);
    assert_eq!(
        (newest.replicas_before, newest.replicas_after),
        (Some(20), Some(1))
    );
    assert_eq!(newest.direction, Direction::Down);
    assert_eq!(newest.alert.as_deref(), Some("APIHighInvocationRate"));
    let first = decisions.last().expect("first decision");
    assert_eq!(first.trigger, Trigger::AlertFiring);
    assert_eq!(first.outcome, Outcome::Applied);
    assert_eq!(
        first.reason,
        "APIHighInvocationRate firing: 1 + ceil(20*20/100)=5 (max 20)"
    );
    assert_eq!(
        decisions[2].reason,
        "APIHighInvocationRate firing: 17 + ceil(20*20/100)=21, capped at max 20"
    );
    assert_eq!(decisions[1].outcome, Outcome::NotTaken);
    assert_eq!(
        decisions[1].reason,
        "APIHighInvocationRate firing: already at max 20"
    );
}

#[actix_rt::test]
async fn certifier_case_min_1_max_2_factor_20() {
    let app = spawn_app(AppOptions::default()).await;
    app.deploy(
        "certify",
        &[(MIN_LABEL, "1"), (MAX_LABEL, "2"), (FACTOR_LABEL, "20")],
    )
    .await;
    let mut seen = vec![];
    for status in ["firing", "firing", "resolved", "resolved"] {
        assert_eq!(app.alert(&[(status, Some("certify"))]).await.0, 200);
        seen.push(app.replicas("certify").await);
    }
    assert_eq!(seen, vec![2, 2, 1, 1]);
    assert_eq!(
        codes(&app.decisions("certify").await),
        vec![
            "firing_step",
            "firing_at_max",
            "resolved_to_min",
            "resolved_at_min"
        ]
    );
}

#[actix_rt::test]
async fn one_webhook_carries_every_functions_alerts() {
    let app = spawn_app(AppOptions::default()).await;
    app.deploy("a", &[]).await;
    app.deploy("b", &[]).await;
    app.deploy("c", &[(MAX_LABEL, "lots")]).await;
    app.deploy("idle", &[]).await;
    app.scale("b", 7).await;
    app.scale("idle", 0).await;

    let (status, body) = app
        .alert(&[
            ("firing", Some("a")),
            ("resolved", Some("b")),
            ("firing", None),                      // service_down: no function_name
            ("firing", Some("missing")),           // not deployed: skipped, as OpenFaaS does
            ("firing", Some("a.other-namespace")), // not served here
            ("firing", Some("c.openfaas-fn")),     // name.namespace form
            ("firing", Some("Not_A_Name")),        // invalid: skipped
            ("resolved", Some("idle")),            // scaled to zero: stays there
        ])
        .await;
    assert_eq!((status, body.as_str()), (200, ""));

    assert_eq!(app.replicas("a").await, 5);
    assert_eq!(app.replicas("b").await, 1);
    assert_eq!(app.replicas("c").await, 5);
    assert_eq!(app.replicas("idle").await, 0);

    assert_eq!(
        codes(&app.decisions("a").await),
        vec!["firing_step", "namespace_not_served"]
    );
    let missing = app.decisions("missing").await;
    assert_eq!(codes(&missing), vec!["lookup_failed"]);
    assert!(
        missing[0].reason.contains("function missing not found"),
        "{}",
        missing[0].reason
    );
    assert_eq!(missing[0].replicas_before, None);
    let other_ns = &app.decisions("a").await[0];
    assert!(
        other_ns
            .reason
            .contains("namespace other-namespace is not served"),
        "{}",
        other_ns.reason
    );
    let c = &app.decisions("c").await[0];
    assert!(
        c.reason.contains(
            "com.openfaas.scale.max=\"lots\" is not a non-negative integer; the default 20 is used"
        ),
        "{}",
        c.reason
    );
    let idle = &app.decisions("idle").await[0];
    assert_eq!(
        (idle.code.as_str(), idle.outcome),
        ("resolved_at_zero", Outcome::NotTaken)
    );
}

#[actix_rt::test]
async fn scale_errors_are_reported_per_alert_and_the_rest_still_scale() {
    let app = spawn_app(AppOptions::default()).await;
    app.deploy("ok", &[]).await;
    app.deploy(BROKEN, &[]).await;
    app.deploy("also-ok", &[]).await;

    let (status, body) = app
        .alert(&[
            ("firing", Some("ok")),
            ("firing", Some(BROKEN)),
            ("firing", Some("also-ok")),
        ])
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        "[1] scaling broken from 1 to 5 replicas: the container engine failed: the container engine refused: no suitable node\n"
    );
    assert_eq!(app.replicas("ok").await, 5);
    assert_eq!(app.replicas("also-ok").await, 5);
    assert_eq!(app.replicas(BROKEN).await, 1);

    let broken = &app.decisions(BROKEN).await[0];
    assert_eq!(
        (broken.code.as_str(), broken.outcome),
        ("scale_failed", Outcome::Failed)
    );
    assert_eq!(
        (broken.replicas_before, broken.replicas_after),
        (Some(1), Some(1))
    );
    assert!(
        broken.reason.contains("not applied: scaling to 5 failed"),
        "{}",
        broken.reason
    );

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"alert_scaler_errors_total{operation="provider_scale"} 1"#),
        "{metrics}"
    );
}

#[actix_rt::test]
async fn bad_bodies_are_400_with_the_contracts_messages() {
    let app = spawn_app(AppOptions::default()).await;
    let cases: &[(&str, &str)] = &[
        ("", "A body is required for this endpoint"),
        ("{", "Unable to parse alert, bad format: "),
        ("[1,2]", "Unable to parse alert, bad format: "),
        (
            r#"{"alerts":[{"status":"firing","labels":{"function_name":1}}]}"#,
            "Unable to parse alert, bad format: alerts[0].labels.function_name: invalid type: integer `1`",
        ),
        (
            r#"{"alerts":"many"}"#,
            "Unable to parse alert, bad format: alerts: invalid type: string",
        ),
    ];
    for (body, message) in cases {
        let res = app.post_alert_body(body.to_string()).await;
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert_eq!(status, 400, "{body:?}: {text}");
        assert!(
            text.starts_with(message),
            "{body:?}: {text:?} should start with {message:?}"
        );
    }
    // Go clients marshal empty lists as null; an empty group is fine.
    for body in [r#"{"alerts":null}"#, r#"{}"#, r#"{"alerts":[]}"#] {
        let res = app.post_alert_body(body).await;
        assert_eq!(res.status().as_u16(), 200, "{body}");
    }
}

#[actix_rt::test]
async fn decisions_endpoint_filters_and_validates() {
    let app = spawn_app(AppOptions::default()).await;
    app.deploy("one", &[]).await;
    app.deploy("two", &[]).await;
    app.alert(&[("firing", Some("one")), ("firing", Some("two"))])
        .await;

    assert_eq!(app.decisions("one").await.len(), 1);
    assert_eq!(app.decisions("one.openfaas-fn").await.len(), 1);
    assert!(app.decisions("never-seen").await.is_empty());

    let all: Vec<alert_scaler::decision::Decision> = app
        .http
        .get(format!("{}/system/scaling-decisions", app.url))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let mut functions: Vec<&str> = all.iter().map(|d| d.function.as_str()).collect();
    functions.sort_unstable();
    assert_eq!(functions, vec!["one", "two"]);

    let res = app
        .http
        .get(format!(
            "{}/system/scaling-decisions?function=Bad_Name",
            app.url
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status().as_u16(), 400);
    let text = res.text().await.expect("body");
    assert!(text.starts_with("query parameter function: "), "{text}");

    // Raw JSON keys as documented in the README.
    let raw: serde_json::Value = app
        .http
        .get(format!("{}/system/scaling-decisions?function=one", app.url))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let d = &raw[0];
    for key in [
        "time",
        "function",
        "trigger",
        "alert",
        "replicasBefore",
        "replicasAfter",
        "direction",
        "outcome",
        "code",
        "reason",
    ] {
        assert!(d.get(key).is_some(), "{key} missing from {d}");
    }
    assert_eq!(d["trigger"], "alert_firing");
    assert_eq!(d["direction"], "up");
}

#[actix_rt::test]
async fn metrics_count_decisions_and_alerts() {
    let app = spawn_app(AppOptions::default()).await;
    app.deploy("m", &[(MAX_LABEL, "2")]).await;
    app.alert(&[
        ("firing", Some("m")),
        ("firing", Some("m")),
        ("resolved", Some("m")),
    ])
    .await;
    app.alert(&[("firing", None)]).await;
    let text = app.metrics().await;
    for line in [
        r#"alert_scaler_decisions_total{direction="up",reason="firing_step"} 1"#,
        r#"alert_scaler_decisions_total{direction="none",reason="firing_at_max"} 1"#,
        r#"alert_scaler_decisions_total{direction="down",reason="resolved_to_min"} 1"#,
        r#"alert_scaler_alerts_received_total{status="firing"} 3"#,
        r#"alert_scaler_alerts_received_total{status="resolved"} 1"#,
        "# TYPE alert_scaler_decisions_total counter",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}
