//! Load balancing across replicas: rotation among idle ones, least busy first, failover.

use std::sync::Arc;

use crate::helpers::{
    refused_address, spawn_app, spawn_closing_upstream, spawn_upstream, spawn_upstream_with, Echo,
    Hold,
};

#[actix_web::test]
async fn idle_replicas_share_the_calls() {
    let app = spawn_app().await;
    let a = spawn_upstream("a").await;
    let b = spawn_upstream("b").await;
    app.deploy("echo", &[&a, &b]).await;
    for _ in 0..20 {
        let res = app.invoke("/function/echo").await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(a.calls() + b.calls(), 20);
    assert_eq!(
        a.calls(),
        10,
        "sequential calls alternate: a={} b={}",
        a.calls(),
        b.calls()
    );
}

#[actix_web::test]
async fn a_busy_replica_is_avoided() {
    let app = spawn_app().await;
    let hold = Arc::new(Hold::default());
    let a = spawn_upstream_with("a", hold.clone()).await;
    let b = spawn_upstream_with("b", hold.clone()).await;
    app.deploy("echo", &[&a, &b]).await;

    let held = {
        let (client, url) = (app.client.clone(), app.url("/function/echo/hold"));
        actix_web::rt::spawn(async move { client.post(url).send().await.unwrap().status() })
    };
    hold.arrived.notified().await;
    let holder = hold.holder.lock().unwrap().clone().unwrap();
    for _ in 0..6 {
        let echo: Echo = app.invoke("/function/echo").await.json().await.unwrap();
        assert_ne!(echo.replica, holder, "the busy replica got a call");
    }
    hold.release.notify_one();
    assert_eq!(held.await.unwrap(), 200);
}

#[actix_web::test]
async fn a_refusing_replica_is_skipped() {
    let app = spawn_app().await;
    let good = spawn_upstream("good").await;
    app.deploy("echo", &[&good]).await;
    app.set_upstreams("echo", vec![refused_address(), good.address.clone()]);
    for i in 0..10 {
        // Bodies too: a refused connection never read the body, so it is sent whole again.
        let res = app
            .client
            .post(app.url("/function/echo"))
            .body(format!("call {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "call {i}");
        let echo: Echo = res.json().await.unwrap();
        assert_eq!(echo.replica, "good");
        assert_eq!(echo.body, format!("call {i}"));
    }
    assert_eq!(good.calls(), 10);
}

#[actix_web::test]
async fn replaced_replicas_are_found_after_a_failure() {
    let app = spawn_app().await;
    let old = spawn_upstream("old").await;
    app.deploy("echo", &[&old]).await;
    let echo: Echo = app.invoke("/function/echo").await.json().await.unwrap();
    assert_eq!(echo.replica, "old");
    // The replica is replaced while the gateway's cached list still names the old one.
    let new = spawn_upstream("new").await;
    app.set_upstreams("echo", vec![new.address.clone()]);
    old.stop().await;
    let res = app.invoke("/function/echo").await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let echo: Echo = serde_json::from_str(&body).unwrap();
    assert_eq!(echo.replica, "new");
}

#[actix_web::test]
async fn a_pooled_connection_closed_by_the_replica_is_retried_only_when_safe() {
    let app = spawn_app().await;
    app.deploy("closing", &[]).await;
    app.set_upstreams("closing", vec![spawn_closing_upstream()]);
    let res = app.get("/function/closing").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
    // Reuses the pooled connection, which the replica closes: sent again on a new one.
    let res = app.get("/function/closing").send().await.unwrap();
    assert_eq!(res.status(), 200, "an idempotent call is sent again");
    // The same race for a POST with a body is not replayed.
    let res = app
        .client
        .post(app.url("/function/closing"))
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
}
