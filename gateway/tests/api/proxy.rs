//! The invocation proxy's HTTP semantics (CONTRACT.md §2): paths, queries, headers, methods,
//! statuses, redirects, timeouts and errors.

use std::time::{Duration, Instant};

use crate::helpers::{refused_address, spawn_app, spawn_app_with, spawn_upstream, Echo, Options};

#[actix_web::test]
async fn path_and_query_reach_the_replica_byte_for_byte() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    for (path, want) in [
        ("/function/echo", "/"),
        ("/function/echo/", "/"),
        ("/function/echo?", "/"),
        ("/function/echo/a/b", "/a/b"),
        (
            "/function/echo/a%20b//c/?x=1&y=%2F&z&q=a+b",
            "/a%20b//c/?x=1&y=%2F&z&q=a+b",
        ),
        ("/function/echo.openfaas-fn/deep/path?k=v", "/deep/path?k=v"),
        ("/function/echo.openfaas-fn", "/"),
    ] {
        let res = app.invoke(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let echo: Echo = res.json().await.unwrap();
        assert_eq!(echo.uri, want, "{path}");
    }
}

#[actix_web::test]
async fn headers_added_removed_and_kept() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let res = app
        .client
        .post(app.url("/function/echo"))
        .header("Connection", "keep-alive, X-Hop")
        .header("X-Hop", "secret")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Authorization", "Basic eA==")
        .header("Te", "trailers")
        .header("Authorization", "Bearer abc")
        .header("X-Multi", "1")
        .header("X-Multi", "2")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let call_id = res.headers()["x-call-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&call_id).is_ok(), "{call_id}");
    let start: u128 = res.headers()["x-start-time"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        res.headers()["x-function"],
        "echo",
        "function headers pass through"
    );
    let echo: Echo = res.json().await.unwrap();
    assert_eq!(echo.method, "POST");
    assert_eq!(echo.body, "hello");
    assert_eq!(echo.header("x-call-id"), Some(call_id.as_str()));
    assert_eq!(
        echo.header("x-start-time")
            .unwrap()
            .parse::<u128>()
            .unwrap(),
        start
    );
    let gateway_host = app.address.trim_start_matches("http://");
    assert_eq!(echo.header("x-forwarded-host"), Some(gateway_host));
    let forwarded_for = echo.header("x-forwarded-for").unwrap();
    assert!(
        forwarded_for.starts_with("127.0.0.1:"),
        "ip:port as Go sends: {forwarded_for}"
    );
    assert_eq!(echo.header("host"), Some(upstream.address.as_str()));
    assert_eq!(echo.header("authorization"), Some("Bearer abc"));
    assert_eq!(echo.headers["x-multi"], vec!["1", "2"]);
    assert_eq!(echo.header("content-length"), Some("5"));
    for gone in [
        "x-hop",
        "keep-alive",
        "proxy-authorization",
        "te",
        "user-agent-added-by-gateway",
    ] {
        assert!(
            !echo.headers.contains_key(gone),
            "{gone} must not be forwarded: {:?}",
            echo.headers
        );
    }

    // A caller's call id and forwarding headers are kept, and the call id is echoed.
    let res = app
        .client
        .get(app.url("/function/echo"))
        .header("X-Call-Id", "caller-id")
        .header("X-Forwarded-For", "1.2.3.4")
        .header("X-Forwarded-Host", "original.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-call-id"], "caller-id");
    let echo: Echo = res.json().await.unwrap();
    assert_eq!(echo.header("x-call-id"), Some("caller-id"));
    assert_eq!(echo.header("x-forwarded-for"), Some("1.2.3.4"));
    assert_eq!(echo.header("x-forwarded-host"), Some("original.example"));
    assert_eq!(
        echo.header("content-length"),
        None,
        "a GET without a body stays without one"
    );
    assert_eq!(echo.header("transfer-encoding"), None);

    // The function's own X-Start-Time / X-Call-Id win, as in OpenFaaS.
    let res = app.invoke("/function/echo/own-ids").await;
    assert_eq!(res.headers()["x-start-time"], "7");
    assert_eq!(res.headers()["x-call-id"], "function-set");
}

#[actix_web::test]
async fn any_method_is_forwarded() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .client
            .request(m, app.url("/function/echo"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{method}");
        let echo: Echo = res.json().await.unwrap();
        assert_eq!(echo.method, method);
    }
    let res = app
        .client
        .head(app.url("/function/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-replica"], "a");
    assert!(
        res.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
}

#[actix_web::test]
async fn statuses_and_redirects_pass_through() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    for code in [200u16, 201, 400, 404, 418, 500, 503] {
        let res = app.invoke(&format!("/function/echo/status/{code}")).await;
        assert_eq!(res.status(), code);
        assert_eq!(res.headers()["x-function"], "status");
        assert_eq!(res.text().await.unwrap(), format!("status {code}"));
    }
    let res = app.invoke("/function/echo/status/204").await;
    assert_eq!(res.status(), 204);
    assert!(res.headers().contains_key("x-call-id"));
    let res = app.invoke("/function/echo/redirect").await;
    assert_eq!(res.status(), 302, "redirects are returned, not followed");
    assert_eq!(res.headers()["location"], "/elsewhere");
    assert_eq!(
        upstream.calls(),
        0,
        "the redirect target was never requested"
    );
}

#[actix_web::test]
async fn unknown_functions_names_and_namespaces() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    for (path, code, words) in [
        ("/function/nope", 404, "function nope not found"),
        (
            "/function/nope.openfaas-fn/x",
            404,
            "function nope not found",
        ),
        ("/function/echo.other", 404, "namespace other not found"),
        ("/function/Echo", 400, "function name"),
        ("/function/a_b/x", 400, "function name"),
        ("/function/", 400, "function name is empty"),
        ("/function", 400, "function name is empty"),
    ] {
        let res = app.invoke(path).await;
        assert_eq!(res.status(), code, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains(words), "{path}: {body}");
    }
    let res = app.invoke("/functions/echo").await;
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn slow_function_gets_504_with_a_message() {
    let app = spawn_app_with(Options {
        env: vec![("upstream_timeout", "300ms".into())],
        ..Default::default()
    })
    .await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let start = Instant::now();
    let res = app.invoke("/function/echo/slow?ms=5000").await;
    assert_eq!(res.status(), 504);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("did not answer within upstream_timeout"),
        "{body}"
    );
    let res = app.invoke("/function/echo/slow?ms=10").await;
    assert_eq!(res.status(), 200, "a fast call still passes");
}

#[actix_web::test]
async fn write_timeout_cuts_a_long_response_body() {
    let app = spawn_app_with(Options {
        env: vec![
            ("upstream_timeout", "500ms".into()),
            ("write_timeout", "1s".into()),
        ],
        ..Default::default()
    })
    .await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let start = Instant::now();
    let res = app.invoke("/function/echo/drip?chunks=40&ms=100").await;
    assert_eq!(res.status(), 200, "the head came in time");
    let body = res.bytes().await;
    assert!(body.is_err(), "the body must be cut, got {body:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[actix_web::test]
async fn refused_replica_is_502_with_a_message() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let dead = refused_address();
    app.set_upstreams("echo", vec![dead.clone()]);
    let res = app.invoke("/function/echo").await;
    assert_eq!(res.status(), 502);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("no replica of function echo could be reached"),
        "{body}"
    );
    assert!(body.contains(&dead), "{body}");
}
