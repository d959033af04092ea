//! The provider HTTP API and its client, end to end over HTTP on loopback.

mod helpers;

use std::sync::Arc;

use faas_provider::auth::Credentials;
use faas_provider::memory::InMemoryProvider;
use faas_provider::types::*;
use faas_provider::{FunctionName, Provider, ProviderError, DEFAULT_NAMESPACE};
use futures::TryStreamExt;
use helpers::{spawn_api, Failing};

fn name(s: &str) -> FunctionName {
    FunctionName::parse(s).unwrap()
}

fn deployment(service: &str) -> FunctionDeployment {
    FunctionDeployment {
        service: name(service),
        image: "ironfaas/echo:latest".into(),
        env_process: "cat".into(),
        ..Default::default()
    }
}

/// Every variant crosses the wire and comes back as itself, from every operation.
#[actix_rt::test]
async fn every_error_variant_round_trips_through_the_client() {
    for error in ProviderError::examples() {
        let api = spawn_api(Arc::new(Failing(error.clone())), None);
        let c = api.client(None);
        let n = name("figlet");
        let results: Vec<(&str, ProviderError)> = vec![
            ("list", c.list().await.unwrap_err()),
            ("get", c.get(&n).await.unwrap_err()),
            ("deploy", c.deploy(deployment("figlet")).await.unwrap_err()),
            ("update", c.update(deployment("figlet")).await.unwrap_err()),
            ("delete", c.delete(&n).await.unwrap_err()),
            ("scale", c.scale(&n, 2).await.unwrap_err()),
            ("endpoints", c.endpoints(&n).await.unwrap_err()),
            ("list_secrets", c.list_secrets().await.unwrap_err()),
            (
                "create_secret",
                c.create_secret(Secret {
                    name: "s".into(),
                    value: Some("v".into()),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            ),
            ("delete_secret", c.delete_secret("s").await.unwrap_err()),
            (
                "logs",
                c.logs(LogRequest::new(n.clone())).await.err().unwrap(),
            ),
            ("namespaces", c.namespaces().await.unwrap_err()),
            ("info", c.info().await.unwrap_err()),
            ("health", c.health().await.unwrap_err()),
        ];
        for (op, got) in results {
            assert_eq!(got, error, "{op} returned {got:?} for {error:?}");
        }
    }
}

/// Plain-text clients (faas-cli) see the message, with the right status.
#[actix_rt::test]
async fn error_bodies_are_plain_text_for_other_clients() {
    let api = spawn_api(
        Arc::new(Failing(ProviderError::FunctionNotFound("figlet".into()))),
        None,
    );
    let res = reqwest::get(format!("{}system/function/figlet", api.url))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.text().await.unwrap(), "function figlet not found");
}

#[actix_rt::test]
async fn full_lifecycle_over_http() {
    let provider = InMemoryProvider::new(DEFAULT_NAMESPACE);
    let api = spawn_api(Arc::new(provider.clone()), None);
    let c = api.client(None);
    let n = name("echo");

    let mut d = deployment("echo");
    d.labels.insert("com.openfaas.scale.min".into(), "2".into());
    d.secrets = vec!["api-key".into()];
    let err = c.deploy(d.clone()).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Invalid(m) if m.contains("api-key")),
        "{err:?}"
    );

    c.create_secret(Secret {
        name: "api-key".into(),
        value: Some("s3cret".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    c.deploy(d.clone()).await.unwrap();
    assert_eq!(
        c.deploy(d.clone()).await.unwrap_err(),
        ProviderError::FunctionExists("echo".into())
    );

    let s = c.get(&n).await.unwrap();
    assert_eq!((s.replicas, s.available_replicas), (2, 2));
    assert_eq!(s.namespace, DEFAULT_NAMESPACE);
    assert_eq!(s.secrets, vec!["api-key".to_string()]);
    assert_eq!(c.list().await.unwrap().len(), 1);

    c.scale(&n, 0).await.unwrap();
    assert_eq!(c.get(&n).await.unwrap().replicas, 0);
    assert!(c.endpoints(&n).await.unwrap().endpoints.is_empty());
    provider.set_upstreams(&n, vec!["127.0.0.1:1".into()]);
    c.scale(&n, 1).await.unwrap();
    assert_eq!(c.endpoints(&n).await.unwrap().endpoints.len(), 1);

    provider.push_log(&n, "line one");
    provider.push_log(&n, "line two");
    let mut req = LogRequest::new(n.clone());
    req.tail = Some(1);
    let lines: Vec<LogMessage> = c.logs(req).await.unwrap().try_collect().await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "line two");

    assert_eq!(c.namespaces().await.unwrap(), vec![DEFAULT_NAMESPACE]);
    assert_eq!(
        c.update(deployment("missing")).await.unwrap_err(),
        ProviderError::FunctionNotFound("missing".into())
    );
    c.delete(&n).await.unwrap();
    assert_eq!(
        c.get(&n).await.unwrap_err(),
        ProviderError::FunctionNotFound("echo".into())
    );
    c.delete_secret("api-key").await.unwrap();
    assert_eq!(
        c.delete_secret("api-key").await.unwrap_err(),
        ProviderError::SecretNotFound("api-key".into())
    );
}

/// What a raw HTTP client (curl, faas-cli) sees for the statuses of CONTRACT.md §1.6.
#[actix_rt::test]
async fn statuses_and_messages_for_raw_clients() {
    let provider = InMemoryProvider::new(DEFAULT_NAMESPACE);
    let api = spawn_api(Arc::new(provider), None);
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", api.url);

    // (what, method, path, body, status, the body contains)
    type Case<'a> = (
        &'a str,
        reqwest::Method,
        &'a str,
        Option<&'a str>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "deploy",
            reqwest::Method::POST,
            "system/functions",
            Some(r#"{"service":"echo","image":"x/echo:1"}"#),
            202,
            "",
        ),
        (
            "deploy again",
            reqwest::Method::POST,
            "system/functions",
            Some(r#"{"service":"echo","image":"x/echo:1"}"#),
            409,
            "already exists",
        ),
        (
            "bad json",
            reqwest::Method::POST,
            "system/functions",
            Some("not json"),
            400,
            "invalid FunctionDeployment",
        ),
        (
            "no image",
            reqwest::Method::POST,
            "system/functions",
            Some(r#"{"service":"a"}"#),
            400,
            "image",
        ),
        (
            "empty image",
            reqwest::Method::POST,
            "system/functions",
            Some(r#"{"service":"a","image":" "}"#),
            400,
            "image is required",
        ),
        (
            "bad name",
            reqwest::Method::POST,
            "system/functions",
            Some(r#"{"service":"Bad_Name","image":"x"}"#),
            400,
            "only lowercase",
        ),
        (
            "other namespace",
            reqwest::Method::POST,
            "system/functions",
            Some(r#"{"service":"b","image":"x","namespace":"other"}"#),
            404,
            "namespace other not found",
        ),
        (
            "update unknown",
            reqwest::Method::PUT,
            "system/functions",
            Some(r#"{"service":"nope","image":"x"}"#),
            404,
            "function nope not found",
        ),
        (
            "update",
            reqwest::Method::PUT,
            "system/functions",
            Some(r#"{"service":"echo","image":"x/echo:2","labels":null,"annotations":null}"#),
            202,
            "",
        ),
        (
            "get with suffix",
            reqwest::Method::GET,
            "system/function/echo.openfaas-fn",
            None,
            200,
            "x/echo:2",
        ),
        (
            "get with query",
            reqwest::Method::GET,
            "system/function/echo?namespace=openfaas-fn",
            None,
            200,
            "x/echo:2",
        ),
        (
            "get other ns",
            reqwest::Method::GET,
            "system/function/echo?namespace=nope",
            None,
            404,
            "namespace nope not found",
        ),
        (
            "get invalid name",
            reqwest::Method::GET,
            "system/function/UPPER",
            None,
            400,
            "lowercase",
        ),
        (
            "list other ns",
            reqwest::Method::GET,
            "system/functions?namespace=nope",
            None,
            404,
            "namespace",
        ),
        (
            "scale",
            reqwest::Method::POST,
            "system/scale-function/echo",
            Some(r#"{"serviceName":"echo","replicas":0}"#),
            202,
            "",
        ),
        (
            "scale bad body",
            reqwest::Method::POST,
            "system/scale-function/echo",
            Some(r#"{"serviceName":"echo"}"#),
            400,
            "replicas",
        ),
        (
            "scale negative",
            reqwest::Method::POST,
            "system/scale-function/echo",
            Some(r#"{"replicas":-1}"#),
            400,
            "replicas",
        ),
        (
            "scale unknown",
            reqwest::Method::POST,
            "system/scale-function/nope",
            Some(r#"{"replicas":1}"#),
            404,
            "function nope not found",
        ),
        (
            "secret no value",
            reqwest::Method::POST,
            "system/secrets",
            Some(r#"{"name":"k"}"#),
            400,
            "value",
        ),
        (
            "secret bad name",
            reqwest::Method::POST,
            "system/secrets",
            Some(r#"{"name":"a/b","value":"v"}"#),
            400,
            "secret name",
        ),
        (
            "secret create",
            reqwest::Method::POST,
            "system/secrets",
            Some(r#"{"name":"k","value":"v"}"#),
            201,
            "",
        ),
        (
            "secret update",
            reqwest::Method::PUT,
            "system/secrets",
            Some(r#"{"name":"k","value":"w"}"#),
            200,
            "",
        ),
        (
            "secret list",
            reqwest::Method::GET,
            "system/secrets",
            None,
            200,
            r#""name":"k""#,
        ),
        (
            "secret delete",
            reqwest::Method::DELETE,
            "system/secrets",
            Some(r#"{"name":"k"}"#),
            200,
            "",
        ),
        (
            "logs no name",
            reqwest::Method::GET,
            "system/logs",
            None,
            400,
            "name",
        ),
        (
            "logs bad tail",
            reqwest::Method::GET,
            "system/logs?name=echo&tail=x",
            None,
            400,
            "tail",
        ),
        (
            "namespaces",
            reqwest::Method::GET,
            "system/namespaces",
            None,
            200,
            r#"["openfaas-fn"]"#,
        ),
        (
            "info",
            reqwest::Method::GET,
            "system/info",
            None,
            200,
            r#""provider":"in-memory""#,
        ),
        (
            "wrong method",
            reqwest::Method::PATCH,
            "system/functions",
            None,
            405,
            "",
        ),
        (
            "unknown path",
            reqwest::Method::GET,
            "system/nope",
            None,
            404,
            "",
        ),
        (
            "delete",
            reqwest::Method::DELETE,
            "system/functions",
            Some(r#"{"functionName":"echo"}"#),
            202,
            "",
        ),
        (
            "delete again",
            reqwest::Method::DELETE,
            "system/functions",
            Some(r#"{"functionName":"echo"}"#),
            404,
            "function echo not found",
        ),
        ("healthz", reqwest::Method::GET, "healthz", None, 200, ""),
    ];
    for (what, method, path, body, status, contains) in cases {
        let mut req = http.request(method, url(path));
        if let Some(b) = body {
            req = req.body(b.to_owned());
        }
        let res = req.send().await.unwrap();
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, status, "{what}: body {text:?}");
        assert!(
            text.contains(contains),
            "{what}: {text:?} lacks {contains:?}"
        );
    }
}

#[actix_rt::test]
async fn basic_auth_guards_system_routes_but_not_healthz() {
    let creds = Credentials::new("admin", "pw");
    let api = spawn_api(
        Arc::new(InMemoryProvider::new(DEFAULT_NAMESPACE)),
        Some(creds.clone()),
    );
    let res = reqwest::get(format!("{}system/functions", api.url))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Basic realm=\"Restricted\""
    );
    assert_eq!(res.text().await.unwrap(), "invalid credentials");
    assert_eq!(
        api.client(Some(Credentials::new("admin", "wrong")))
            .list()
            .await
            .unwrap_err(),
        ProviderError::Unauthorized
    );
    assert!(api.client(Some(creds)).list().await.unwrap().is_empty());
    let res = reqwest::get(format!("{}healthz", api.url)).await.unwrap();
    assert_eq!(res.status(), 200);
}
