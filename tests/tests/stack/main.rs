//! The stack as users meet it: `scripts/build-images`, then every template and sample function
//! built with a plain `docker build` and answering; `docker-compose.yml` brought up healthy,
//! used through the gateway (deploy, sync call, async call with a callback, the call counted in
//! Prometheus) and taken down with nothing left; the same for the Swarm stack.

mod helpers;

use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use e2e::docker::TestResources;
use e2e::poll;
use helpers::{
    build_images, container_states, docker_build, network_gateway, objects, prometheus_query,
    sha512sum_line, CallbackReceiver, Compose, Gateway, SwarmStack,
};

const HEALTHY_TIMEOUT: Duration = Duration::from_secs(180);
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Prometheus scrapes the gateway every 5 s.
const METRICS_TIMEOUT: Duration = Duration::from_secs(60);

struct Sample {
    dir: &'static str,
    name: &'static str,
    request: &'static str,
    /// What the response body must contain (whitespace runs compared as one space).
    expect: &'static str,
}

const SAMPLES: &[Sample] = &[
    Sample {
        dir: "templates/dockerfile/function",
        name: "tpl-dockerfile",
        request: "echo me",
        expect: "echo me",
    },
    Sample {
        dir: "templates/bash",
        name: "tpl-bash",
        request: "hi",
        expect: "Hello from bash (POST /): hi",
    },
    Sample {
        dir: "templates/python3",
        name: "tpl-python3",
        request: "hi",
        expect: "Hello from python3: hi",
    },
    Sample {
        dir: "templates/python3-http",
        name: "tpl-python3-http",
        request: "hi",
        expect: r#""message": "Hello from python3-http", "method": "POST", "path": "/", "body": "hi""#,
    },
    Sample {
        dir: "functions/wordcount",
        name: "fn-wordcount",
        request: "one two\nthree\n",
        expect: "2 3 14",
    },
    Sample {
        dir: "functions/base64",
        name: "fn-base64",
        request: "hello",
        expect: "aGVsbG8=",
    },
    Sample {
        dir: "functions/upper",
        name: "fn-upper",
        request: "hello, World",
        expect: "HELLO, WORLD",
    },
    Sample {
        dir: "functions/sha512",
        name: "fn-sha512",
        request: "hello",
        expect: "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
    },
    Sample {
        dir: "functions/env",
        name: "fn-env",
        request: "",
        expect: "Http_Method=POST",
    },
    Sample {
        dir: "functions/sleep",
        name: "fn-sleep",
        request: "0.2",
        expect: "slept 0.2s",
    },
];

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every template and sample function: `docker build <dir>` as its README says, run, healthy by
/// its own HEALTHCHECK, and answering a call with what the sample promises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_and_functions_build_with_docker_build_and_answer() {
    build_images().await;
    let resources = TestResources::new().await;
    let network = resources.create_network("samples", "bridge").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let mut started = Vec::new();
    for sample in SAMPLES {
        let image = docker_build(&resources, sample.dir, sample.name).await;
        let body = ContainerCreateBody {
            image: Some(image),
            host_config: Some(HostConfig {
                network_mode: Some(network.clone()),
                cap_drop: Some(vec!["ALL".to_owned()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        started.push((sample, resources.start_container(sample.name, body).await));
    }
    for (sample, id) in &started {
        let ids = vec![id.clone()];
        poll::until(HEALTHY_TIMEOUT, Duration::from_millis(250), || async {
            let states = container_states(&ids).await?;
            match states.first() {
                Some((_, s)) if s.starts_with("running/healthy") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await
        .unwrap_or_else(|t| panic!("{} never became healthy: {t}", sample.dir));
        let ip = helpers::run(
            tokio::process::Command::new("docker").args([
                "inspect",
                "--format",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                id,
            ]),
            Duration::from_secs(30),
        )
        .await
        .expect("the container's address");
        let response = client
            .post(format!("http://{}:8080/", ip.trim()))
            .body(sample.request)
            .send()
            .await
            .unwrap_or_else(|e| panic!("calling {}: {e:?}", sample.dir));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "{}: {text}", sample.dir);
        assert!(
            squeeze(&text).contains(&squeeze(sample.expect)),
            "{}: {text:?} should contain {:?}",
            sample.dir,
            sample.expect
        );
    }
    resources.cleanup().await;
}

/// What a user does after `up`: deploy a sample through the gateway with basic auth, call it,
/// call it asynchronously with a callback, see the call in Prometheus, remove it.
async fn use_the_stack(
    gateway: &Gateway,
    resources: &TestResources,
    callback_ip: &str,
    prometheus: &str,
) {
    let image = docker_build(resources, "functions/sha512", "sha512-img").await;
    let function = resources.name("sha512");

    let unauthorised = gateway
        .get("/system/functions", false)
        .await
        .expect("the gateway answers");
    assert_eq!(unauthorised.status, 401, "{unauthorised:?}");

    let deployed = gateway.deploy(&function, &image).await.expect("deploy");
    assert!(
        (200..=202).contains(&deployed.status),
        "deploy: {deployed:?}"
    );
    gateway
        .wait_ready(&function, READY_TIMEOUT)
        .await
        .unwrap_or_else(|t| panic!("{function} never had a ready replica: {t}"));

    // Synchronous.
    let answer = gateway
        .invoke(&function, "hello stack")
        .await
        .expect("sync call");
    assert_eq!(answer.status, 200, "sync call: {answer:?}");
    assert_eq!(answer.body, sha512sum_line(b"hello stack"));
    assert!(answer.headers.contains_key("x-call-id"), "{answer:?}");

    // Asynchronous, with a callback to the host.
    let mut receiver = CallbackReceiver::start(callback_ip).await;
    let accepted = gateway
        .invoke_async(&function, "hello queue", &receiver.url)
        .await
        .expect("async call");
    assert_eq!(accepted.status, 202, "async call: {accepted:?}");
    let callback = receiver
        .next(Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("no callback to {} within 60s", receiver.url));
    assert_eq!(
        String::from_utf8_lossy(&callback.body),
        sha512sum_line(b"hello queue")
    );
    assert_eq!(
        callback
            .headers
            .get("x-function-status")
            .map(String::as_str),
        Some("200"),
        "{callback:?}"
    );
    if let Some(id) = accepted.headers.get("x-call-id") {
        assert_eq!(callback.headers.get("x-call-id"), Some(id), "{callback:?}");
    }

    // Counted in Prometheus: the sync and the async call.
    let query = format!(
        r#"sum(gateway_function_invocation_total{{function_name=~"{function}(\\.openfaas-fn)?"}})"#
    );
    poll::until(METRICS_TIMEOUT, Duration::from_secs(1), || async {
        match prometheus_query(prometheus, &query).await? {
            Some(n) if n >= 2.0 => Ok(()),
            other => Err(format!("{query} = {other:?}")),
        }
    })
    .await
    .unwrap_or_else(|t| panic!("the calls never showed in Prometheus: {t}"));

    let removed = gateway.remove(&function).await.expect("remove");
    assert!(matches!(removed.status, 200 | 202), "remove: {removed:?}");
    poll::until(READY_TIMEOUT, Duration::from_millis(500), || async {
        let status = gateway
            .get(&format!("/system/function/{function}"), true)
            .await?;
        let left =
            helpers::containers_labelled(&format!("com.openfaas.function={function}")).await?;
        if status.status == 404 && left.is_empty() {
            Ok(())
        } else {
            Err(format!("status {}, containers {left:?}", status.status))
        }
    })
    .await
    .unwrap_or_else(|t| panic!("{function} was not removed: {t}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_stack_comes_up_healthy_serves_and_goes_down_without_a_trace() {
    build_images().await;
    let resources = TestResources::new().await;
    let compose = Compose::new(&resources);

    compose
        .up()
        .await
        .unwrap_or_else(|e| panic!("docker-compose up -d failed: {e}"));
    // Every service healthy; the one-shot credentials service exited 0.
    poll::until(HEALTHY_TIMEOUT, Duration::from_millis(500), || async {
        let ids = compose.containers().await?;
        let states = container_states(&ids).await?;
        let ok = |s: &str| s.starts_with("running/healthy") || s == "exited/none/0";
        if states.len() == 8 && states.iter().all(|(_, s)| ok(s)) {
            Ok(())
        } else {
            Err(format!("{states:?}"))
        }
    })
    .await
    .unwrap_or_else(|t| panic!("the stack never became healthy: {t}"));

    let password = compose
        .run(
            &[
                "run",
                "--rm",
                "--no-deps",
                "credentials",
                "cat",
                "/run/secrets/basic-auth-password",
            ],
            Duration::from_secs(60),
        )
        .await
        .expect("the documented command shows the password");
    assert!(password.trim().len() >= 32, "{password:?}");
    let gateway = Gateway::new(
        compose.port("gateway", 8080).await,
        "admin",
        password.trim(),
    );
    let prometheus_port = compose.port("prometheus", 9090).await;
    let ready = reqwest::get(format!("http://127.0.0.1:{prometheus_port}/-/ready"))
        .await
        .expect("Prometheus on its published port");
    assert_eq!(ready.status().as_u16(), 200);

    // Containers reach the host at the gateway of their network.
    let internal = format!("{}_internal", compose.project);
    let host_ip = network_gateway(&internal).await;
    let prometheus = compose.container("prometheus").await;
    use_the_stack(&gateway, &resources, &host_ip, &prometheus).await;

    let project = compose.project.clone();
    let function_network = compose.function_network().to_owned();
    let label = format!("com.docker.compose.project={project}");
    let compose_down = compose.down().await;
    compose_down.unwrap_or_else(|e| panic!("docker-compose down -v failed: {e}"));
    let containers = helpers::containers_labelled(&label)
        .await
        .expect("docker ps");
    let networks = objects("network", &format!("label={label}")).await;
    let volumes = objects("volume", &format!("label={label}")).await;
    let function_networks: Vec<_> = objects("network", &format!("name={function_network}"))
        .await
        .into_iter()
        .filter(|n| *n == function_network)
        .collect();
    assert!(
        containers.is_empty()
            && networks.is_empty()
            && volumes.is_empty()
            && function_networks.is_empty(),
        "left behind: containers {containers:?}, networks {networks:?} {function_networks:?}, volumes {volumes:?}"
    );
    resources.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_stack_deploys_healthy_serves_and_is_removed_without_a_trace() {
    let _swarm = e2e::swarm::SwarmGuard::acquire().await;
    build_images().await;
    let resources = TestResources::new().await;
    let stack = SwarmStack::new(&resources);

    let password = stack
        .deploy()
        .await
        .unwrap_or_else(|e| panic!("scripts/deploy-stack failed: {e}"));
    let services = [
        "nats",
        "prometheus",
        "alertmanager",
        "provider-swarm",
        "gateway",
        "queue-worker",
        "alert-scaler",
    ];
    poll::until(HEALTHY_TIMEOUT, Duration::from_secs(1), || async {
        let mut states = Vec::new();
        for service in services {
            let ids = stack.containers(service).await?;
            let state = container_states(&ids).await?;
            if state.is_empty() {
                states.push((service.to_owned(), "no running task".to_owned()));
            }
            states.extend(state);
        }
        if states.len() == services.len()
            && states.iter().all(|(_, s)| s.starts_with("running/healthy"))
        {
            Ok(())
        } else {
            Err(format!("{states:?}"))
        }
    })
    .await
    .unwrap_or_else(|t| panic!("the Swarm stack never became healthy: {t}"));

    let gateway = Gateway::new(stack.gateway_port, "admin", &password);
    // Through the ingress routing mesh, which may lag the task by a moment.
    poll::until(READY_TIMEOUT, Duration::from_millis(500), || async {
        let answer = gateway.get("/healthz", false).await?;
        (answer.status == 200)
            .then_some(())
            .ok_or_else(|| format!("{answer:?}"))
    })
    .await
    .unwrap_or_else(|t| panic!("the gateway never answered on its published port: {t}"));

    // Overlay containers reach the host through docker_gwbridge.
    let host_ip = network_gateway("docker_gwbridge").await;
    let prometheus = stack
        .containers("prometheus")
        .await
        .expect("docker ps")
        .pop()
        .expect("a Prometheus task");
    use_the_stack(&gateway, &resources, &host_ip, &prometheus).await;

    let name = stack.name.clone();
    let left = stack
        .remove()
        .await
        .unwrap_or_else(|e| panic!("removing stack {name}: {e}"));
    assert!(left.is_empty(), "left behind by stack {name}: {left:?}");
    resources.cleanup().await;
}
