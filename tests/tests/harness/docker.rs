//! Images built without a registry, containers run from them, and cleanup (also on panic).

use std::time::Instant;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::InspectContainerOptions;
use e2e::docker::{docker, leftovers, ContainerOutput, TestResources};
use e2e::images::{busybox_image, function_image, ImageContext};

#[tokio::test]
async fn an_image_built_from_scratch_runs_and_leaves_nothing_behind() {
    let resources = TestResources::new().await;
    let (docker, run_id) = (resources.docker().clone(), resources.run_id().to_owned());

    let started = Instant::now();
    let image = busybox_image(&resources).await;
    eprintln!("busybox image built in {:?}", started.elapsed());
    let output = resources
        .run_to_completion(
            &image,
            &["sh", "-c", "echo hello from scratch; echo oops >&2; exit 3"],
        )
        .await;

    let expected = ContainerOutput {
        exit_code: 3,
        stdout: "hello from scratch\n".to_owned(),
        stderr: "oops\n".to_owned(),
    };
    assert_eq!(output, expected);
    resources.cleanup().await;
    assert_eq!(leftovers(&docker, &run_id).await, Vec::<String>::new());
}

#[tokio::test]
async fn environment_and_command_reach_the_container_unchanged() {
    let resources = TestResources::new().await;
    let value = r#"say "hi" to $HOME \ and 'friends'"#;
    let image = ImageContext::scratch()
        .with_busybox()
        .file("/etc/greeting", "from a file\n", 0o644)
        .env("GREETING", value)
        .cmd(&[
            "sh",
            "-c",
            "echo \"$GREETING\"; cat /etc/greeting; stat -c %a /tmp",
        ])
        .build(&resources, "env")
        .await;

    let output = resources.run_to_completion(&image, &[]).await;

    assert_eq!(output.exit_code, 0, "{output:?}");
    assert_eq!(output.stdout, format!("{value}\nfrom a file\n1777\n"));
}

#[tokio::test]
async fn a_function_image_holds_the_static_watchdog_and_its_fprocess() {
    let resources = TestResources::new().await;
    let started = Instant::now();
    let image = function_image(&resources, "fn", "wc -l").await;
    eprintln!(
        "function image (static fwatchdog included) built in {:?}",
        started.elapsed()
    );

    let config = resources
        .docker()
        .inspect_image(&image)
        .await
        .expect("the image exists")
        .config
        .expect("the image has a config");
    let output = resources
        .run_to_completion(
            &image,
            &["sh", "-c", r#"test -x /fwatchdog && echo "$fprocess""#],
        )
        .await;

    assert_eq!(config.cmd, Some(vec!["/fwatchdog".to_owned()]));
    assert!(config
        .env
        .unwrap_or_default()
        .contains(&"fprocess=wc -l".to_owned()));
    assert_eq!(
        (output.exit_code, output.stdout.as_str()),
        (0, "wc -l\n"),
        "{output:?}"
    );
}

#[tokio::test]
async fn a_test_that_panics_still_leaves_nothing_behind() {
    let (run_id_tx, run_id_rx) = std::sync::mpsc::channel();
    // A whole test of its own, on its own thread and runtime, that panics with a running
    // container, a network and an image alive.
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let resources = TestResources::new().await;
            run_id_tx
                .send(resources.run_id().to_owned())
                .expect("the test is listening");
            let image = busybox_image(&resources).await;
            let network = resources.create_network("net", "bridge").await;
            let body = ContainerCreateBody {
                image: Some(image),
                cmd: Some(vec!["sleep".to_owned(), "300".to_owned()]),
                host_config: Some(bollard::models::HostConfig {
                    network_mode: Some(network),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let id = resources.start_container("sleeper", body).await;
            let state = resources
                .docker()
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
                .expect("the container exists")
                .state
                .and_then(|s| s.running);
            assert_eq!(state, Some(true));
            let alive = leftovers(resources.docker(), resources.run_id()).await;
            assert_eq!(alive.len(), 3, "container, network and image: {alive:?}");
            panic!("deliberate panic with a running container, a network and an image");
        })
    })
    .join();

    assert!(outcome.is_err(), "the inner test panicked");
    let run_id = run_id_rx.recv().expect("the inner test sent its run id");
    assert_eq!(
        leftovers(&docker().await, &run_id).await,
        Vec::<String>::new()
    );
}
