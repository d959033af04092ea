//! The metrics listener: OpenFaaS metric names and labels (CONTRACT.md §3.1), `/healthz`.

use std::time::Duration;

use crate::helpers::{poll_until, refused_address, spawn_app, spawn_upstream};

#[actix_web::test]
async fn exposition_after_calls() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    for path in [
        "/function/echo",
        "/function/echo.openfaas-fn",
        "/function/echo/status/418",
    ] {
        app.invoke(path).await.bytes().await.unwrap();
    }
    // Not counted: no function behind the name (labels stay bounded).
    app.invoke("/function/nope").await;
    app.deploy("dead", &[]).await;
    app.set_upstreams("dead", vec![refused_address()]);
    assert_eq!(app.invoke("/function/dead").await.status(), 502);

    let text = poll_until(Duration::from_secs(10), || async {
        let text = app.metrics().await;
        if text.contains("gateway_service_count{function_name=\"echo.openfaas-fn\"} 1") {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    for want in [
        "# TYPE gateway_function_invocation_total counter",
        "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"200\"} 2",
        "gateway_function_invocation_total{function_name=\"echo.openfaas-fn\",code=\"418\"} 1",
        "gateway_function_invocation_total{function_name=\"dead.openfaas-fn\",code=\"502\"} 1",
        "gateway_function_invocation_started{function_name=\"echo.openfaas-fn\"} 3",
        "# TYPE gateway_functions_seconds histogram",
        "gateway_functions_seconds_bucket{function_name=\"echo.openfaas-fn\",code=\"200\",le=\"10\"} 2",
        "gateway_functions_seconds_count{function_name=\"echo.openfaas-fn\",code=\"418\"} 1",
        "gateway_function_invocations_in_flight{function_name=\"echo.openfaas-fn\"} 0",
        "# TYPE gateway_service_count gauge",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!text.contains("nope"), "{text}");

    let res = reqwest::get(format!("{}/healthz", app.metrics_address))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "OK");
    let res = reqwest::Client::new()
        .post(format!("{}/healthz", app.metrics_address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

#[actix_web::test]
async fn in_flight_counts_a_call_until_its_body_ends() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let mut res = app.invoke("/function/echo/drip?chunks=10&ms=100").await;
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.unwrap();
    assert!(first.is_some());
    let text = app.metrics().await;
    assert!(
        text.contains(
            "gateway_function_invocations_in_flight{function_name=\"echo.openfaas-fn\"} 1"
        ),
        "{text}"
    );
    while res.chunk().await.unwrap().is_some() {}
    poll_until(Duration::from_secs(5), || async {
        let text = app.metrics().await;
        if text.contains(
            "gateway_function_invocations_in_flight{function_name=\"echo.openfaas-fn\"} 0",
        ) {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
}

/// Prometheus's own parser accepts the exposition; its only complaints are the names OpenFaaS
/// chose (`…_started` is a counter without `_total`, `…_service_count` a gauge ending in `_count`).
#[actix_web::test]
async fn promtool_accepts_the_exposition() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    app.invoke("/function/echo").await.bytes().await.unwrap();
    let text = poll_until(Duration::from_secs(10), || async {
        let text = app.metrics().await;
        if text.contains("gateway_service_count") {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool exits 3 for lint findings, 1 for a parse error.
    assert!(matches!(out.status.code(), Some(0 | 3)), "{report}\n{text}");
    let allowed = [
        "gateway_function_invocation_started counter metrics should have \"_total\" suffix",
        "gateway_service_count non-histogram and non-summary metrics should not have \"_count\" suffix",
    ];
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            allowed.contains(&line.trim()),
            "unexpected promtool finding: {line}\n{text}"
        );
    }
}
