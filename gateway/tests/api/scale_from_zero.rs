//! Scale from zero: a call to a function with no replica scales it, waits, then is served.

use faas_provider::{FunctionName, Provider};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, spawn_upstream, Options};

#[actix_web::test]
async fn concurrent_cold_calls_cause_one_scale() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let name = FunctionName::parse("echo").unwrap();
    app.provider.memory.scale(&name, 0).await.unwrap();
    let before = app.provider.memory.scale_calls();

    let calls = (0..8).map(|i| {
        let (client, url) = (app.client.clone(), app.url("/function/echo"));
        async move {
            client
                .post(url)
                .body(format!("cold {i}"))
                .send()
                .await
                .unwrap()
        }
    });
    let responses = futures::future::join_all(calls).await;
    for res in responses {
        assert_eq!(res.status(), 200);
        let waited: f64 = res.headers()["x-cold-start-seconds"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(waited >= 0.0);
    }
    assert_eq!(
        app.provider.memory.scale_calls() - before,
        1,
        "one scale for all cold calls"
    );
    assert_eq!(app.provider.memory.get(&name).await.unwrap().replicas, 1);
    assert_eq!(upstream.calls(), 8);

    // Warm now: no cold-start header.
    let res = app.invoke("/function/echo").await;
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("x-cold-start-seconds"));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("gateway_cold_start_seconds_count{function_name=\"echo.openfaas-fn\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn scales_to_the_minimum_label() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy_with_labels("echo", &[&upstream], json!({"com.openfaas.scale.min": "2"}))
        .await;
    let name = FunctionName::parse("echo").unwrap();
    app.provider.memory.scale(&name, 0).await.unwrap();
    let res = app.invoke("/function/echo.openfaas-fn").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-cold-start-seconds"));
    assert_eq!(app.provider.memory.get(&name).await.unwrap().replicas, 2);
}

#[actix_web::test]
async fn no_ready_replica_in_time_is_504() {
    let app = spawn_app_with(Options {
        env: vec![("upstream_timeout", "400ms".into())],
        ..Default::default()
    })
    .await;
    app.deploy("echo", &[]).await;
    let name = FunctionName::parse("echo").unwrap();
    app.provider.memory.scale(&name, 0).await.unwrap();
    let res = app.invoke("/function/echo").await;
    assert_eq!(res.status(), 504);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("no ready replica within upstream_timeout"),
        "{body}"
    );
    assert_eq!(
        app.provider.memory.get(&name).await.unwrap().replicas,
        1,
        "it was scaled"
    );
}

#[actix_web::test]
async fn scale_from_zero_off_is_503() {
    let app = spawn_app_with(Options {
        env: vec![("scale_from_zero", "false".into())],
        ..Default::default()
    })
    .await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let name = FunctionName::parse("echo").unwrap();
    app.provider.memory.scale(&name, 0).await.unwrap();
    let before = app.provider.memory.scale_calls();
    let res = app.invoke("/function/echo").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("scale_from_zero is off"));
    assert_eq!(app.provider.memory.scale_calls(), before);
    // A function scaled back up is served again.
    app.provider.memory.scale(&name, 1).await.unwrap();
    let res = app.invoke("/function/echo").await;
    assert_eq!(res.status(), 200);
}
