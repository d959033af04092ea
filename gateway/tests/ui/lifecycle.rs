//! Issue 5 end to end without a browser: through the gateway to provider-swarm on Docker,
//! including a call that waits for a cold start after scaling to zero.

use std::time::Instant;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_invoke_scale_to_zero_cold_start_and_delete() {
    let stack = spawn_stack().await;
    let http = reqwest::Client::new();
    let gw = &stack.gateway_with_auth;
    let name = stack.resources.name("cold");
    let admin = |r: reqwest::RequestBuilder| r.basic_auth(USER, Some(PASSWORD));

    let res = admin(http.post(format!("{gw}/system/functions")))
        .json(&serde_json::json!({"service": name, "image": stack.image}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());

    // The first call may itself wait for the replica to become ready (scale from zero's wait).
    let call = |body: &'static str| {
        http.post(format!("{gw}/function/{name}.openfaas-fn"))
            .body(body)
            .send()
    };
    let res = call("one").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "hello one");

    let res = admin(http.post(format!("{gw}/system/scale-function/{name}")))
        .json(&serde_json::json!({"serviceName": name, "replicas": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    e2e::poll::until(CONVERGE, POLL, || async {
        let s: serde_json::Value = admin(http.get(format!("{gw}/system/function/{name}")))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if s["availableReplicas"] == 0 && s["replicas"] == 0 {
            Ok(())
        } else {
            Err(format!("status {s}"))
        }
    })
    .await
    .expect("the function reaches zero replicas");
    // A replica leaves the ready list at once but drains before it stops; until it has stopped
    // the gateway may still (rightly) reach it, so wait for the engine to have no running one.
    let docker = e2e::docker::docker().await;
    e2e::poll::until(CONVERGE, POLL, || async {
        let filters = std::collections::HashMap::from([
            (
                "label".to_owned(),
                vec![format!("com.openfaas.function={name}")],
            ),
            ("status".to_owned(), vec!["running".to_owned()]),
        ]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::new()
            .filters(&filters)
            .build();
        let running = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| e.to_string())?;
        if running.is_empty() {
            Ok(())
        } else {
            Err(format!("{} replica(s) still running", running.len()))
        }
    })
    .await
    .expect("the old replica stops");

    let started = Instant::now();
    let res = call("two").await.unwrap();
    assert_eq!(res.status(), 200, "the cold call is held, then served");
    let cold = res
        .headers()
        .get("x-cold-start-seconds")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(res.text().await.unwrap(), "hello two");
    assert!(
        cold.is_some(),
        "the response says it waited for a cold start"
    );
    println!(
        "cold start through the gateway: {:?} (header {cold:?})",
        started.elapsed()
    );

    let res = admin(http.delete(format!("{gw}/system/functions")))
        .json(&serde_json::json!({"functionName": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let res = call("three").await.unwrap();
    assert_eq!(res.status(), 404);
}
