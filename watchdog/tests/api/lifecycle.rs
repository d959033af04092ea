//! Health, readiness, the lock file, metrics and graceful shutdown, in-process.

use bytes::Bytes;

use crate::helpers::{open_body, spawn_app};

#[actix_web::test]
async fn health_ready_lock_file_and_metrics() {
    let app = spawn_app(&[("fprocess", "cat")]).await;
    assert!(
        app.lock_path.exists(),
        "the lock file is written when ready"
    );
    let res = app.client.get(app.url("/_/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "OK");
    let res = app.client.get(app.url("/_/ready")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.post(app.url("/_/health")).send().await.unwrap();
    assert_eq!(res.status(), 405);

    let res = app
        .client
        .post(app.url("/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap();
    let metrics = app.metrics().await;
    for want in [
        r#"http_requests_total{code="200",method="post"} 1"#,
        r#"http_request_duration_seconds_count{code="200",method="post"} 1"#,
        "http_requests_in_flight 0",
    ] {
        assert!(metrics.contains(want), "{want} missing from\n{metrics}");
    }
    assert!(
        !metrics.contains(r#"method="get""#),
        "health checks are not counted: {metrics}"
    );

    // Deleting the lock file makes the watchdog unhealthy (Swarm's HEALTHCHECK relies on it).
    std::fs::remove_file(&app.lock_path).unwrap();
    let res = app.client.get(app.url("/_/health")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn suppress_lock_writes_no_file_but_stays_healthy() {
    let app = spawn_app(&[("fprocess", "cat"), ("suppress_lock", "true")]).await;
    assert!(!app.lock_path.exists());
    let res = app.client.get(app.url("/_/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn shutdown_lets_the_call_in_flight_finish() {
    let app = spawn_app(&[("fprocess", "cat"), ("mode", "streaming")]).await;
    let (feed, body) = open_body();
    feed.send(Ok(Bytes::from_static(b"before "))).await.unwrap();
    let res = app
        .client
        .post(app.url("/"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let lock_path = app.lock_path.clone();
    let health = app.url("/_/health");
    let client = app.client.clone();
    let stopping = actix_rt::spawn(app.stop());
    // Unhealthy at once: the lock file goes first.
    crate::helpers::poll_until(std::time::Duration::from_secs(5), || {
        let exists = lock_path.exists();
        async move {
            if exists {
                Err("lock file still there".to_owned())
            } else {
                Ok(())
            }
        }
    })
    .await
    .unwrap();
    assert!(!stopping.is_finished(), "must wait for the call in flight");

    feed.send(Ok(Bytes::from_static(b"after"))).await.unwrap();
    drop(feed);
    assert_eq!(res.text().await.unwrap(), "before after");
    stopping.await.unwrap().unwrap();
    assert!(
        client.get(&health).send().await.is_err(),
        "no longer listening"
    );
}

#[actix_web::test]
async fn a_taken_port_fails_start_up_naming_it() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let config = watchdog::Config::from_env(faas_provider::config::env_from([
        ("fprocess", "cat"),
        ("port", port.as_str()),
        ("metrics_port", "0"),
        ("suppress_lock", "true"),
    ]))
    .unwrap();
    let Err(error) = watchdog::Application::build(config).await else {
        panic!("started on a taken port");
    };
    let message = error.to_string();
    assert!(
        message.contains("port") && message.contains(&port),
        "{message}"
    );
}
