//! Basic auth on `/system/*` and `/ui/`; `/function/*`, `/healthz` and metrics stay open.

use crate::helpers::{spawn_app_with, spawn_upstream, Echo, Options, USER};

#[actix_web::test]
async fn protected_routes_need_the_gateway_credentials() {
    let app = spawn_app_with(Options {
        basic_auth: true,
        ..Default::default()
    })
    .await;
    for path in [
        "/system/functions",
        "/system/info",
        "/system/namespaces",
        "/ui/",
        "/system/function/echo",
    ] {
        let res = app.get(path).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Basic realm=\"Restricted\""
        );
        assert_eq!(res.text().await.unwrap(), "invalid credentials");
        let res = app
            .get(path)
            .basic_auth(USER, Some("wrong"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path} with a wrong password");
        let res = app.get(path).bearer_auth("token").send().await.unwrap();
        assert_eq!(res.status(), 401, "{path} with a bearer token");
    }
    // The provider checks the same credentials: these pass only because the gateway sends its own.
    for path in [
        "/system/functions",
        "/system/info",
        "/system/namespaces",
        "/ui/",
    ] {
        let res = app.admin(app.get(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = app.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = reqwest::get(format!("{}/metrics", app.metrics_address))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn function_calls_pass_the_callers_authorization_untouched() {
    let app = spawn_app_with(Options {
        basic_auth: true,
        ..Default::default()
    })
    .await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let res = app.get("/function/echo").send().await.unwrap();
    assert_eq!(res.status(), 200, "no credentials needed to invoke");
    let echo: Echo = res.json().await.unwrap();
    assert_eq!(echo.header("authorization"), None);
    let res = app
        .get("/function/echo")
        .bearer_auth("caller-token")
        .send()
        .await
        .unwrap();
    let echo: Echo = res.json().await.unwrap();
    assert_eq!(echo.header("authorization"), Some("Bearer caller-token"));
}
