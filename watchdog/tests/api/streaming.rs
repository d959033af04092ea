//! of-watchdog streaming mode (the 200 MiB constant-memory test runs the real binary, in
//! `binary.rs`).

use std::collections::HashMap;

use bytes::Bytes;

use crate::helpers::{open_body, script, spawn_app};

#[actix_web::test]
async fn streams_through_cat_with_the_of_watchdog_environment() {
    let app = spawn_app(&[("fprocess", "cat"), ("mode", "streaming")]).await;
    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let res = app
        .client
        .post(app.url("/"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert!(res.headers().contains_key("x-duration-seconds"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), body);
    app.stop().await.unwrap();

    let app = spawn_app(&[("fprocess", "env"), ("mode", "streaming")]).await;
    let res = app
        .client
        .delete(app.url("/p/q?r=s"))
        .header("X-Forwarded-For", "10.1.2.3")
        .send()
        .await
        .unwrap();
    let env: HashMap<String, String> = res
        .text()
        .await
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(env["Http_Method"], "DELETE");
    assert_eq!(env["Http_Path"], "/p/q");
    assert_eq!(env["Http_Query"], "r=s");
    assert_eq!(env["Http_X_Forwarded_For"], "10.1.2.3");
    assert!(
        !env.contains_key("Http_Host"),
        "of-watchdog sets no Http_Host"
    );
    assert!(!env.contains_key("Http_ContentLength"));
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn max_inflight_answers_429_past_the_limit() {
    let app = spawn_app(&[
        ("fprocess", "cat"),
        ("mode", "streaming"),
        ("max_inflight", "1"),
    ])
    .await;

    // Call 1 stays in flight while its body is open; its echoed first chunk proves it started.
    let (feed, body) = open_body();
    feed.send(Ok(Bytes::from_static(b"first "))).await.unwrap();
    let first = app
        .client
        .post(app.url("/"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);

    let res = app
        .client
        .post(app.url("/"))
        .body("second")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-openfaas-internal"], "faas-middleware");
    assert!(res.headers().contains_key("x-duration-seconds"));
    assert_eq!(
        res.text().await.unwrap(),
        "Concurrent request limit exceeded. Max concurrent requests: 1\n"
    );
    let ready = app.client.get(app.url("/_/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 429, "/_/ready reports the limit");

    feed.send(Ok(Bytes::from_static(b"last"))).await.unwrap();
    drop(feed);
    assert_eq!(first.text().await.unwrap(), "first last");

    let res = app
        .client
        .post(app.url("/"))
        .body("third")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the slot is free again");
    assert_eq!(res.text().await.unwrap(), "third");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"http_requests_total{code="429",method="post"} 1"#),
        "{metrics}"
    );
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn failures_and_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let failing = script(dir.path(), "fail.sh", "echo oops >&2; exit 2");
    let app = spawn_app(&[("fprocess", &failing), ("mode", "streaming")]).await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(
        res.status(),
        500,
        "nothing written yet: the status can still say so"
    );
    assert_eq!(res.text().await.unwrap(), "exit status 2\n");
    app.stop().await.unwrap();

    let app = spawn_app(&[
        ("fprocess", "sleep 300"),
        ("mode", "streaming"),
        ("exec_timeout", "300ms"),
    ])
    .await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 504);
    app.stop().await.unwrap();

    let midway = script(dir.path(), "midway.sh", "echo started\nsleep 300");
    let app = spawn_app(&[
        ("fprocess", &midway),
        ("mode", "streaming"),
        ("exec_timeout", "500ms"),
    ])
    .await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200, "output had started");
    let body = res.bytes().await;
    assert!(
        body.is_err(),
        "a response cut at the deadline must not end cleanly: {body:?}"
    );
    app.stop().await.unwrap();
}
