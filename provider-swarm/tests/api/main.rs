//! provider-swarm against the real Docker engine, with both backends: the whole function
//! lifecycle, zero-downtime updates, secrets, logs, validation and cleanup.

mod helpers;

use std::time::Duration;

use helpers::{function_image, spawn_app, start_load, TestApp, CONVERGE, FPROCESS, INVOKE};
use provider_swarm::engine::Orchestration;
use reqwest::Method;
use serde_json::json;

/// Deploy → invoke → scale 0 → 3 → 1 → update under load → secret → logs → delete.
async fn lifecycle(backend: &str, want: Orchestration) {
    let app = spawn_app(backend).await;
    assert_eq!(app.orchestration, want);
    let (v1, v2) = tokio::join!(
        function_image(&app.resources, "img1", "v1"),
        function_image(&app.resources, "img2", "v2")
    );
    let name = app.name("echo");
    let secret = app.name("api-key");

    let res = app
        .secret(Method::POST, &json!({ "name": secret, "value": "s3cret" }))
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .secret(Method::POST, &json!({ "name": secret, "value": "again" }))
        .await;
    assert_eq!(res.status(), 409, "a second create of {secret}");
    let listed = app.get_raw("/system/secrets").await.text().await.unwrap();
    assert!(listed.contains(&secret), "{listed}");

    let deployment = json!({
        "service": name,
        "image": v1,
        "envProcess": FPROCESS,
        "envVars": { "VERSION": "1" },
        "secrets": [secret],
        "labels": { "team": "e2e" },
        "annotations": { "topic": "tests" },
        "limits": { "memory": "64Mi", "cpu": "500m" },
        "requests": { "memory": "16M", "cpu": "0.1" },
        "readOnlyRootFilesystem": true,
        "namespace": "openfaas-fn"
    });
    let res = app.deploy(&deployment).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let res = app.deploy(&deployment).await;
    assert_eq!(res.status(), 409, "deploying {name} twice");

    // What was deployed comes back exactly.
    let status = app.wait_replicas(&name, 1, 1).await;
    assert_eq!(status.image, v1);
    assert_eq!(status.env_process, FPROCESS);
    assert_eq!(status.env_vars["VERSION"], "1");
    assert_eq!(status.secrets, std::slice::from_ref(&secret));
    assert_eq!(status.labels["team"], "e2e");
    assert_eq!(status.labels["faas_function"], name);
    assert_eq!(status.annotations["topic"], "tests");
    assert_eq!(status.limits.as_ref().unwrap().cpu, "500m");
    assert_eq!(status.requests.as_ref().unwrap().memory, "16M");
    assert!(status.read_only_root_filesystem);
    assert_eq!(status.namespace, "openfaas-fn");
    let created = status.created_at.expect("createdAt");
    let listed: Vec<faas_provider::types::FunctionStatus> =
        app.get_raw("/system/functions").await.json().await.unwrap();
    let mine = listed
        .iter()
        .find(|f| f.name.as_str() == name)
        .expect("listed");
    assert_eq!(mine.image, v1);
    assert_eq!(mine.replicas, 1);

    // A replica answers directly, with its env and the secret mounted read-only.
    let addresses = app.wait_endpoints(&name, 1).await;
    let answer = app
        .invoker
        .invoke(&addresses[0], &format!("/?{secret}"))
        .await
        .expect("the replica answers");
    assert_eq!(answer, "image=v1 version=1\ns3cret", "{answer:?}");

    for n in [0, 3, 1] {
        let res = app.scale(&name, n).await;
        assert_eq!(res.status(), 202);
        app.wait_replicas(&name, n, n).await;
        let addresses = app.wait_endpoints(&name, n as usize).await;
        for a in &addresses {
            app.invoker
                .invoke(a, INVOKE)
                .await
                .expect("every endpoint answers");
        }
    }

    // Update image and env while a client keeps calling: no call may fail.
    let (stop, load) = start_load(app.invoker.clone(), name.clone());
    let mut update = deployment.clone();
    update["image"] = json!(v2);
    update["envVars"] = json!({ "VERSION": "2" });
    let res = app.update(&update).await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    e2e::poll::until(CONVERGE, Duration::from_millis(100), || async {
        let e = app.invoker.endpoints(&name).await?;
        let mut answers = Vec::new();
        for ep in &e.endpoints {
            answers.push(app.invoker.invoke(&ep.address, INVOKE).await?);
        }
        if !answers.is_empty() && answers.iter().all(|a| a.starts_with("image=v2 version=2")) {
            Ok(())
        } else {
            Err(format!("answers {answers:?}"))
        }
    })
    .await
    .expect("the update rolls out");
    // Keep calling while the old replica drains and stops.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send(true).unwrap();
    let report = load.await.unwrap();
    assert!(
        report.failures.is_empty(),
        "failed calls during the update: {:?}",
        report.failures
    );
    assert!(report.ok > 20, "too few calls to tell: {report:?}");
    assert!(report.answers.contains("image=v2 version=2"), "{report:?}");
    let status = app.wait_replicas(&name, 1, 1).await;
    assert_eq!(status.image, v2);
    assert_eq!(
        status.created_at,
        Some(created),
        "createdAt survives updates"
    );

    // Logs: what the handler wrote to stderr, as NDJSON.
    let logs = e2e::poll::until(CONVERGE, Duration::from_millis(200), || async {
        let res = app
            .get_raw(&format!("/system/logs?name={name}&tail=50&follow=false"))
            .await;
        let ct = res.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        let body = res.text().await.map_err(|e| e.to_string())?;
        if ct == "application/x-ndjson" && body.contains("invoked") {
            Ok(body)
        } else {
            Err(format!("{ct}: {body}"))
        }
    })
    .await
    .expect("logs come back");
    for line in logs.lines() {
        let m: faas_provider::types::LogMessage = serde_json::from_str(line).expect("NDJSON");
        assert_eq!(m.name, name);
        assert!(!m.instance.is_empty());
    }

    // A followed stream delivers a line written after it started.
    let mut follow = app
        .get_raw(&format!("/system/logs?name={name}&tail=1&follow=true"))
        .await;
    assert_eq!(follow.status(), 200);
    let address = app.wait_endpoints(&name, 1).await.remove(0);
    app.invoker
        .invoke(&address, "/?followed")
        .await
        .expect("the replica answers");
    let followed = tokio::time::timeout(CONVERGE, async {
        let mut seen = String::new();
        while let Some(chunk) = follow.chunk().await.expect("the stream goes on") {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("invoked followed") {
                return seen;
            }
        }
        panic!("the followed stream ended without the new line: {seen}");
    })
    .await
    .expect("the new line arrives while following");
    assert!(followed
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    drop(follow);

    // Rotating the secret reaches the function (swarm: rolled onto a new secret version).
    let res = app
        .secret(Method::PUT, &json!({ "name": secret, "value": "rotated" }))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let path = format!("/?{secret}");
    e2e::poll::until(CONVERGE, Duration::from_millis(100), || async {
        let e = app.invoker.endpoints(&name).await?;
        let mut answers = Vec::new();
        for ep in &e.endpoints {
            answers.push(app.invoker.invoke(&ep.address, &path).await?);
        }
        if !answers.is_empty() && answers.iter().all(|a| a.ends_with("rotated")) {
            Ok(())
        } else {
            Err(format!("answers {answers:?}"))
        }
    })
    .await
    .expect("the function reads the new value");
    let listed = app.get_raw("/system/secrets").await.text().await.unwrap();
    assert_eq!(
        listed.matches(&secret).count(),
        1,
        "one secret, whatever its versions: {listed}"
    );

    // Delete leaves nothing of the function behind.
    assert_eq!(app.delete(&name).await.status(), 202);
    assert_eq!(
        app.get_raw(&format!("/system/function/{name}"))
            .await
            .status(),
        404
    );
    assert_eq!(app.delete(&name).await.status(), 404);
    assert_eq!(
        app.update(&update).await.status(),
        404,
        "PUT of a deleted function"
    );
    e2e::poll::until(CONVERGE, Duration::from_millis(200), || async {
        let left = app.function_objects(&name).await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await
    .expect("no container or service of the function is left");
    let res = e2e::poll::until(CONVERGE, Duration::from_millis(200), || async {
        let res = app.secret(Method::DELETE, &json!({ "name": secret })).await;
        // Swarm refuses while a stopping task still references the secret.
        if res.status() == 200 {
            Ok(res)
        } else {
            Err(format!(
                "{}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            ))
        }
    })
    .await
    .expect("the secret is deleted");
    assert_eq!(res.status(), 200);
    let listed = app.get_raw("/system/secrets").await.text().await.unwrap();
    assert!(!listed.contains(&secret), "{listed}");
    cleanup(app).await;
}

async fn cleanup(app: TestApp) {
    let resources = app.resources.clone();
    drop(app);
    let resources = std::sync::Arc::try_unwrap(resources)
        .ok()
        .expect("one owner left");
    let run = resources.run_id().to_owned();
    let docker = resources.docker().clone();
    resources.cleanup().await;
    assert!(e2e::docker::leftovers(&docker, &run).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_on_swarm() {
    lifecycle("swarm", Orchestration::Swarm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_on_containers() {
    lifecycle("containers", Orchestration::Containers).await;
}

/// Bad requests answer 400 naming the problem; unknown functions 404.
async fn validation(backend: &str) {
    let app = spawn_app(backend).await;
    let name = app.name("bad");
    let cases = [
        (json!({ "service": "Bad_Name", "image": "x" }), "Bad_Name"),
        (json!({ "service": name, "image": "" }), "image"),
        (json!({ "service": name }), "image"),
        (
            json!({ "service": name, "image": "e2e-no-such-image:1" }),
            "e2e-no-such-image",
        ),
        (
            json!({ "service": name, "image": "e2e-no-such-image:1", "limits": { "memory": "lots" } }),
            "limits.memory",
        ),
    ];
    for (body, word) in cases {
        let res = app.deploy(&body).await;
        assert_eq!(res.status(), 400, "{body}");
        let text = res.text().await.unwrap();
        assert!(text.contains(word), "{text:?} should name {word}");
    }
    let image = function_image(&app.resources, "img", "v1").await;
    let missing = app.name("missing-secret");
    let res = app
        .deploy(&json!({ "service": name, "image": image, "secrets": [missing] }))
        .await;
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(text.contains(&missing), "{text:?} should name the secret");
    assert!(
        app.function_objects(&name).await.is_empty(),
        "a rejected deploy creates nothing"
    );

    let res = app
        .send(
            Method::POST,
            "/system/functions",
            &json!("not a deployment"),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .update(&json!({ "service": name, "image": image }))
        .await;
    assert_eq!(res.status(), 404, "PUT of an unknown function");
    assert_eq!(app.scale(&name, 1).await.status(), 404);
    assert_eq!(
        app.get_raw(&format!("/system/function/{name}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get_raw(&format!("/system/endpoints/{name}"))
            .await
            .status(),
        404
    );

    let ns: Vec<String> = app
        .get_raw("/system/namespaces")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ns, ["openfaas-fn"]);
    let info: serde_json::Value = app.get_raw("/system/info").await.json().await.unwrap();
    assert_eq!(info["orchestration"], backend);
    assert!(!info["version"]["sha"].as_str().unwrap().is_empty());
    assert_eq!(app.get_raw("/healthz").await.status(), 200);
    cleanup(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_on_swarm() {
    validation("swarm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_on_containers() {
    validation("containers").await;
}

/// Containers backend: a secret update reaches running replicas; scale.min sets replicas;
/// the hardening is what the function runs with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_secret_update_and_hardening() {
    let app = spawn_app("containers").await;
    let image = function_image(&app.resources, "img", "v1").await;
    let name = app.name("sec");
    let secret = app.name("token");
    let res = app
        .secret(Method::POST, &json!({ "name": secret, "rawValue": "b25l" }))
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .deploy(&json!({
            "service": name,
            "image": image,
            "secrets": [secret],
            "labels": { "com.openfaas.scale.min": "2" }
        }))
        .await;
    assert_eq!(res.status(), 202);
    let addresses = app.wait_endpoints(&name, 2).await;
    let path = format!("/?{secret}");
    assert!(app
        .invoker
        .invoke(&addresses[0], &path)
        .await
        .unwrap()
        .ends_with("one"));
    let res = app
        .secret(Method::PUT, &json!({ "name": secret, "value": "two" }))
        .await;
    assert_eq!(res.status(), 200);
    for a in &addresses {
        assert!(app.invoker.invoke(a, &path).await.unwrap().ends_with("two"));
    }
    assert_eq!(
        app.secret(
            Method::PUT,
            &json!({ "name": app.name("nope"), "value": "x" })
        )
        .await
        .status(),
        404
    );

    // Hardening as the engine applied it.
    let docker = app.resources.docker();
    let replica = app.invoker.endpoints(&name).await.unwrap().endpoints[0]
        .instance
        .clone();
    let inspect = docker
        .inspect_container(
            &replica,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .unwrap();
    let host = inspect.host_config.unwrap();
    assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
    assert_eq!(host.security_opt.unwrap(), ["no-new-privileges:true"]);
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(bollard::models::RestartPolicyNameEnum::UNLESS_STOPPED)
    );

    assert_eq!(app.delete(&name).await.status(), 202);
    assert!(app.function_objects(&name).await.is_empty());
    assert_eq!(
        app.secret(Method::DELETE, &json!({ "name": secret }))
            .await
            .status(),
        200
    );
    assert!(!app.data_dir.path().join("secrets").join(&secret).exists());
    cleanup(app).await;
}
