//! Swarm mode under the guard: a service on an attachable overlay network answers a plain
//! container on that network, and the engine's swarm state is as it was afterwards.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSpec, EndpointSpecModeEnum, HostConfig, LocalNodeState,
    NetworkAttachmentConfig, ServiceSpec, TaskSpec, TaskSpecContainerSpec, TaskState,
};
use bollard::query_parameters::ListTasksOptionsBuilder;
use bollard::Docker;
use e2e::docker::{docker, leftovers, TestResources};
use e2e::images::busybox_image;
use e2e::poll;
use e2e::swarm::SwarmGuard;

async fn swarm_state(docker: &Docker) -> Option<LocalNodeState> {
    docker
        .info()
        .await
        .expect("engine info")
        .swarm
        .and_then(|s| s.local_node_state)
}

#[tokio::test]
async fn a_service_on_an_attachable_overlay_network_answers_a_container() {
    let before = swarm_state(&docker().await).await;
    let guard = SwarmGuard::acquire().await;
    let nested = SwarmGuard::acquire().await;
    assert_eq!(
        swarm_state(&docker().await).await,
        Some(LocalNodeState::ACTIVE)
    );
    let resources = TestResources::new().await;
    let (docker, run_id) = (resources.docker().clone(), resources.run_id().to_owned());
    let image = busybox_image(&resources).await;
    let network = resources.create_network("overlay", "overlay").await;
    let service = resources.name("web");
    let spec = ServiceSpec {
        name: Some(service.clone()),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.clone()),
                command: Some(
                    [
                        "sh",
                        "-c",
                        "echo hello-overlay > /tmp/index.html && exec httpd -f -p 8080 -h /tmp",
                    ]
                    .map(String::from)
                    .to_vec(),
                ),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(network.clone()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        // This engine's kernel has no IPVS, so virtual IPs do not route: names must resolve to
        // the tasks themselves.
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = resources.create_service(spec).await;

    let filters = HashMap::from([("service", vec![id.as_str()])]);
    let tasks = ListTasksOptionsBuilder::new().filters(&filters).build();
    poll::until(
        Duration::from_secs(60),
        Duration::from_millis(250),
        || async {
            let tasks = docker
                .list_tasks(Some(tasks.clone()))
                .await
                .map_err(|e| e.to_string())?;
            let states: Vec<_> = tasks
                .iter()
                .map(|t| t.status.as_ref().and_then(|s| s.state))
                .collect();
            if states.contains(&Some(TaskState::RUNNING)) {
                Ok(())
            } else {
                Err(format!("task states: {states:?}"))
            }
        },
    )
    .await
    .expect("the service's task runs");
    // The name resolves shortly after the task runs. Through `sh`: busybox 1.35's wget run as
    // the container's PID 1 segfaults here.
    let fetch = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            format!("wget -q -O - http://{service}:8080/"),
        ]),
        host_config: Some(HostConfig {
            network_mode: Some(network),
            ..Default::default()
        }),
        ..Default::default()
    };
    let page = poll::until(
        Duration::from_secs(60),
        Duration::from_millis(500),
        || async {
            let output = resources.run(fetch.clone()).await;
            if output.exit_code == 0 {
                Ok(output.stdout)
            } else {
                Err(format!("{output:?}"))
            }
        },
    )
    .await
    .expect("the service answers over the overlay network");
    assert_eq!(page, "hello-overlay\n");

    resources.cleanup().await;
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
    drop(nested);
    drop(guard);
    assert_eq!(
        swarm_state(&docker).await,
        before,
        "the swarm state is as it was before"
    );
}
