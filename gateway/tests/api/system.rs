//! `/system/*`, `/healthz`, `/` and `/ui/`: the statuses of CONTRACT.md §1.6.

use std::time::Duration;

use faas_provider::FunctionName;
use serde_json::{json, Value};

use crate::helpers::{
    build_app, refused_address, spawn_app, spawn_app_with, spawn_prometheus, spawn_upstream,
    Options,
};

#[actix_web::test]
async fn function_lifecycle_statuses() {
    let app = spawn_app().await;
    let functions = app.url("/system/functions");

    let res = app.get("/system/functions").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));

    let deployment =
        json!({"service": "echo", "image": "test/echo:1", "labels": null, "annotations": null});
    let res = app
        .client
        .post(&functions)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let res = app
        .client
        .post(&functions)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("echo"));

    let res = app
        .client
        .put(&functions)
        .json(&deployment)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let missing = json!({"service": "nope", "image": "test/nope:1"});
    let res = app
        .client
        .put(&functions)
        .json(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "faas-cli deploy relies on PUT of an unknown function being 404"
    );

    for (body, word) in [
        ("{", "FunctionDeployment"),
        (r#"{"service":"Bad_Name","image":"x"}"#, "function name"),
        (r#"{"service":"ok","image":""}"#, "image"),
    ] {
        let res = app
            .client
            .post(&functions)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert!(
            res.text().await.unwrap().contains(word),
            "{body} should name {word}"
        );
    }

    let res = app.get("/system/function/echo").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["name"], "echo");
    assert_eq!(status["namespace"], "openfaas-fn");
    assert_eq!(status["replicas"], 1);
    for (path, code) in [
        ("/system/function/echo.openfaas-fn", 200),
        ("/system/function/echo?namespace=openfaas-fn", 200),
        ("/system/function/echo?namespace=other", 404),
        ("/system/function/echo.other", 404),
        ("/system/function/nope", 404),
        ("/system/function/Bad_Name", 400),
        ("/system/functions?namespace=other", 404),
        ("/system/functions?namespace=openfaas-fn", 200),
    ] {
        let res = app.get(path).send().await.unwrap();
        assert_eq!(res.status(), code, "{path}");
    }

    let res = app
        .client
        .post(app.url("/system/scale-function/echo"))
        .json(&json!({"serviceName": "echo", "replicas": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let name = FunctionName::parse("echo").unwrap();
    assert_eq!(
        faas_provider::Provider::get(&app.provider.memory, &name)
            .await
            .unwrap()
            .replicas,
        3
    );
    let res = app
        .client
        .post(app.url("/system/scale-function/nope"))
        .json(&json!({"serviceName": "nope", "replicas": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let res = app.get("/system/functions").send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list[0]["name"], "echo");
    assert_eq!(list[0]["namespace"], "openfaas-fn");
    assert_eq!(
        list[0]["invocationCount"], 0.0,
        "Prometheus is down: counts read 0"
    );

    let res = app
        .client
        .delete(&functions)
        .json(&json!({"functionName": "echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let res = app
        .client
        .delete(&functions)
        .json(&json!({"functionName": "echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn secrets_statuses() {
    let app = spawn_app().await;
    let secrets = app.url("/system/secrets");
    let secret = json!({"name": "api-key", "value": "v"});
    let res = app
        .client
        .post(&secrets)
        .json(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .client
        .post(&secrets)
        .json(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = app.get("/system/secrets").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list[0]["name"], "api-key");
    let res = app.client.put(&secrets).json(&secret).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .put(&secrets)
        .json(&json!({"name": "nope", "value": "v"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .client
        .post(&secrets)
        .json(&json!({"name": "bad name", "value": "v"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .client
        .delete(&secrets)
        .json(&json!({"name": "api-key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .delete(&secrets)
        .json(&json!({"name": "api-key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .get("/system/secrets?namespace=other")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn logs_namespaces_info_and_health() {
    let app = spawn_app().await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let name = FunctionName::parse("echo").unwrap();
    app.provider.memory.push_log(&name, "first");
    app.provider.memory.push_log(&name, "second");

    let res = app
        .get("/system/logs?name=echo&follow=false")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[1]["text"], "second");
    let res = app
        .get("/system/logs?name=echo&tail=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap().lines().count(), 1);
    for (path, code, word) in [
        ("/system/logs", 400, "name"),
        ("/system/logs?name=echo&tail=x", 400, "tail"),
        ("/system/logs?name=echo&since=yesterday", 400, "since"),
        ("/system/logs?name=nope", 404, "nope"),
    ] {
        let res = app.get(path).send().await.unwrap();
        assert_eq!(res.status(), code, "{path}");
        assert!(
            res.text().await.unwrap().contains(word),
            "{path} should name {word}"
        );
    }

    let res = app.get("/system/namespaces").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!(["openfaas-fn"]));

    let res = app.get("/system/info").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let info: Value = res.json().await.unwrap();
    assert_eq!(info["provider"]["provider"], "in-memory");
    assert_eq!(info["provider"]["orchestration"], "memory");
    for field in [
        &info["provider"]["version"]["sha"],
        &info["provider"]["version"]["release"],
        &info["version"]["sha"],
        &info["version"]["release"],
        &info["arch"],
    ] {
        assert!(field.as_str().is_some_and(|s| !s.is_empty()), "{info}");
    }
    let res = app
        .client
        .post(app.url("/system/info"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);

    let res = app.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn root_ui_and_unknown_paths() {
    let app = spawn_app().await;
    let res = app.get("/").send().await.unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.headers()["location"], "/ui/");
    let res = app.get("/ui/").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "raw.githubusercontent.com"
    );
    let res = app.get("/nowhere").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.text().await.unwrap(), "404 page not found\n");
    // Registered by issue 6 once NATS is configured.
    let res = app
        .client
        .post(app.url("/async-function/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn list_fills_invocation_counts_from_prometheus() {
    let prometheus = spawn_prometheus(vec![
        ("echo.openfaas-fn", 7.0),
        ("echo", 2.0),
        ("other.openfaas-fn", 1.0),
    ])
    .await;
    let app = spawn_app_with(Options {
        env: vec![("faas_prometheus_port", prometheus.port.to_string())],
        ..Default::default()
    })
    .await;
    let upstream = spawn_upstream("a").await;
    app.deploy("echo", &[&upstream]).await;
    let res = app.get("/system/functions").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(
        list[0]["invocationCount"], 9.0,
        "both label forms count: {list}"
    );
    let queries = prometheus.queries.lock().unwrap().clone();
    assert!(
        queries[0].contains("gateway_function_invocation_total"),
        "{queries:?}"
    );
}

#[actix_web::test]
async fn provider_down() {
    let app = spawn_app_with(Options {
        provider_url: Some(format!("http://{}/", refused_address())),
        ..Default::default()
    })
    .await;
    for path in [
        "/system/functions",
        "/healthz",
        "/system/info",
        "/function/echo",
    ] {
        let res = app.get(path).send().await.unwrap();
        assert_eq!(res.status(), 503, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("provider"), "{path}: {body}");
    }
}

#[actix_web::test]
async fn stops_when_the_shutdown_future_resolves() {
    let (app, _provider, _secrets) = build_app(Options::default()).await;
    let health = format!("http://127.0.0.1:{}/healthz", app.port());
    let metrics = format!("http://127.0.0.1:{}/healthz", app.metrics_port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = actix_web::rt::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    assert_eq!(reqwest::get(&metrics).await.unwrap().status(), 200);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run_until_stopped returns after shutdown");
    result.unwrap().unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    assert!(
        client.get(&health).send().await.is_err(),
        "main listener closed"
    );
    assert!(
        client.get(&metrics).send().await.is_err(),
        "metrics listener closed"
    );
}
