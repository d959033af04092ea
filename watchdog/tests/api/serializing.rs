//! of-watchdog serializing mode.

use crate::helpers::{script, spawn_app};

#[actix_web::test]
async fn buffers_both_ways_and_reports_failures() {
    let app = spawn_app(&[("fprocess", "cat"), ("mode", "serializing")]).await;
    let body = "x".repeat(300_000);
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
    assert_eq!(res.text().await.unwrap(), body);
    app.stop().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let failing = script(dir.path(), "fail.sh", "echo partial; echo oops >&2; exit 1");
    let app = spawn_app(&[
        ("fprocess", &failing),
        ("mode", "serializing"),
        ("content_type", "text/plain"),
    ])
    .await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(res.text().await.unwrap(), "exit status 1\n");

    let res = app.client.get(app.url("/x?q=1")).send().await.unwrap();
    assert_eq!(res.status(), 500);
    app.stop().await.unwrap();

    let app = spawn_app(&[
        ("fprocess", "sleep 300"),
        ("mode", "serializing"),
        ("exec_timeout", "300ms"),
    ])
    .await;
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 504);
    app.stop().await.unwrap();
}
