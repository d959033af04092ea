//! `/async-function/*` with a real `nats-server -js`: 202 only once JetStream stored the call.

use e2e::nats::NatsServer;
use faas_provider::queue::REQUEST_STREAM;
use faas_provider::types::{FunctionDeployment, QueueRequest};
use faas_provider::{FunctionName, Provider};

use crate::helpers::{spawn_app_with, Options, TestApp};

async fn app_with_nats(nats: &NatsServer, extra: Vec<(&'static str, String)>) -> TestApp {
    let mut env = vec![
        ("faas_nats_address", "127.0.0.1".to_owned()),
        ("faas_nats_port", nats.port().to_string()),
    ];
    env.extend(extra);
    let app = spawn_app_with(Options {
        env,
        ..Default::default()
    })
    .await;
    let mut d = FunctionDeployment {
        service: FunctionName::parse("echo").unwrap(),
        image: "ironfaas/echo:1".into(),
        ..Default::default()
    };
    d.annotations
        .insert("com.openfaas.retry.attempts".into(), "2".into());
    app.provider.memory.deploy(d).await.unwrap();
    app
}

async fn last_queued(nats: &NatsServer) -> QueueRequest {
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(REQUEST_STREAM).await.unwrap();
    let msg = stream
        .get_last_raw_message_by_subject(REQUEST_STREAM)
        .await
        .unwrap();
    serde_json::from_slice(&msg.payload).unwrap()
}

#[actix_rt::test]
async fn a_stored_call_gets_202_with_its_call_id() {
    let nats = NatsServer::start().await;
    let app = app_with_nats(&nats, vec![]).await;
    let res = app
        .client
        .post(app.url("/async-function/echo.openfaas-fn/a/b?x=1&y=%20"))
        .header("X-Callback-Url", "http://cb.example:8888/hook?k=v")
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let call_id = res.headers()["x-call-id"].to_str().unwrap().to_owned();
    assert!(res.headers().contains_key("x-start-time"));

    let q = last_queued(&nats).await;
    assert_eq!(q.body, b"hello");
    assert_eq!(q.function, "echo.openfaas-fn");
    assert_eq!(q.path, "/a/b");
    assert_eq!(q.query_string, "x=1&y=%20");
    assert_eq!(q.method, "POST");
    assert_eq!(q.header("X-Call-Id"), Some(call_id.as_str()));
    assert_eq!(q.header["Content-Type"], vec!["text/plain".to_string()]);
    let cb = q.callback_url.as_ref().unwrap();
    assert_eq!(
        (cb.host.as_str(), cb.path.as_str(), cb.raw_query.as_str()),
        ("cb.example:8888", "/hook", "k=v")
    );
    assert_eq!(q.annotations["com.openfaas.retry.attempts"], "2");
}

#[actix_rt::test]
async fn refusals_name_the_problem() {
    let nats = NatsServer::start().await;
    let app = app_with_nats(&nats, vec![("max_async_body", "10".into())]).await;
    let cases = [
        (
            "unknown function",
            "/async-function/nope",
            None,
            "x",
            404,
            "function nope not found",
        ),
        (
            "bad callback",
            "/async-function/echo",
            Some("not a url"),
            "x",
            400,
            "X-Callback-Url",
        ),
        (
            "ftp callback",
            "/async-function/echo",
            Some("ftp://h/x"),
            "x",
            400,
            "X-Callback-Url",
        ),
        (
            "too large",
            "/async-function/echo",
            None,
            "01234567890",
            413,
            "max_async_body",
        ),
        (
            "bad name",
            "/async-function/Echo",
            None,
            "x",
            400,
            "lowercase",
        ),
        (
            "other namespace",
            "/async-function/echo.other",
            None,
            "x",
            404,
            "namespace other",
        ),
    ];
    for (what, path, callback, body, status, contains) in cases {
        let mut req = app.client.post(app.url(path)).body(body);
        if let Some(cb) = callback {
            req = req.header("X-Callback-Url", cb);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), status, "{what}");
        let text = res.text().await.unwrap();
        assert!(text.contains(contains), "{what}: {text:?}");
    }
    let res = app.get("/async-function/echo").send().await.unwrap();
    assert_eq!(res.status(), 405);
}

#[actix_rt::test]
async fn nats_down_is_503_never_202() {
    let mut nats = NatsServer::start().await;
    let app = app_with_nats(&nats, vec![]).await;
    let ok = app
        .client
        .post(app.url("/async-function/echo"))
        .body("a")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    nats.stop().await;
    let res = app
        .client
        .post(app.url("/async-function/echo"))
        .body("b")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("not queued"));
}

#[actix_rt::test]
async fn without_nats_the_route_does_not_exist() {
    let app = spawn_app_with(Options::default()).await;
    let res = app
        .client
        .post(app.url("/async-function/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_rt::test]
async fn alerts_without_an_alert_scaler_say_so() {
    let app = spawn_app_with(Options::default()).await;
    let res = app
        .client
        .post(app.url("/system/alert"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 501);
    assert!(res.text().await.unwrap().contains("alert_scaler_url"));
}
