//! Basic auth on `/system/*` (AlertManager sends `admin` + password file), open `/healthz` and
//! `/metrics`, and the credentials passed on to the provider.

use faas_provider::auth::Credentials;

use crate::helpers::{spawn_app, webhook, AppOptions, USER};

#[actix_rt::test]
async fn system_routes_need_the_credentials() {
    let app = spawn_app(AppOptions {
        basic_auth: true,
        ..AppOptions::default()
    })
    .await;
    app.deploy("secured", &[]).await;
    let body = webhook(&[("firing", Some("secured"))]).to_string();
    let wrong = Credentials::new(USER, "not-the-password").header_value();
    for (path, method) in [
        ("/system/alert", "POST"),
        ("/system/scaling-decisions", "GET"),
    ] {
        for auth in [None, Some(wrong.as_str()), Some("Basic")] {
            let mut req = match method {
                "POST" => app
                    .http
                    .post(format!("{}{path}", app.url))
                    .body(body.clone()),
                _ => app.http.get(format!("{}{path}", app.url)),
            };
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let res = req.send().await.expect("request");
            assert_eq!(res.status().as_u16(), 401, "{method} {path} with {auth:?}");
            assert_eq!(
                res.headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Basic realm=\"Restricted\""),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        app.replicas("secured").await,
        1,
        "no unauthenticated scaling"
    );

    // With the credentials: the alert scales through a provider that also requires them.
    let (status, text) = app.alert(&[("firing", Some("secured"))]).await;
    assert_eq!((status, text.as_str()), (200, ""));
    assert_eq!(app.replicas("secured").await, 5);
    assert_eq!(app.decisions("secured").await.len(), 1);

    for path in ["/healthz", "/metrics"] {
        let res = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("GET");
        assert_eq!(res.status().as_u16(), 200, "{path} is open");
    }
}
