//! The real `fwatchdog` binary: memory while streaming 200 MiB, SIGTERM with a call in flight,
//! the health-check commands, and start-up errors.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::helpers::{open_body, poll_until, Binary};

const MIB: usize = 1024 * 1024;

#[actix_web::test]
async fn streams_200_mib_through_cat_in_constant_memory() {
    let watchdog = Binary::start(&[
        ("mode", "streaming"),
        ("fprocess", "cat"),
        ("write_timeout", "5m"),
    ]);
    let client = reqwest::Client::new();
    // Warm up, so the baseline includes the server threads' buffers.
    let res = client
        .post(watchdog.url("/"))
        .body("warm")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "warm");
    let before = watchdog.memory_kib("VmRSS");

    let chunk = Bytes::from(vec![7u8; 64 * 1024]);
    let chunks = 200 * MIB / chunk.len();
    let body =
        futures::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let res = client
        .post(watchdog.url("/"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut received = 0usize;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.iter().all(|b| *b == 7));
        received += chunk.len();
    }
    assert_eq!(received, 200 * MIB);

    let peak = watchdog.memory_kib("VmHWM");
    eprintln!("fwatchdog memory: VmRSS before {before} KiB, VmHWM after 200 MiB {peak} KiB");
    assert!(
        peak < 20 * 1024,
        "the watchdog peaked at {peak} KiB (over 20 MiB)"
    );
}

#[actix_web::test]
async fn sigterm_lets_the_call_in_flight_finish() {
    let mut watchdog = Binary::start(&[("mode", "streaming"), ("fprocess", "cat")]);
    let client = reqwest::Client::new();
    let (feed, body) = open_body();
    feed.send(Ok(Bytes::from_static(b"in flight, ")))
        .await
        .unwrap();
    let res = client
        .post(watchdog.url("/"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    kill(Pid::from_raw(watchdog.pid()), Signal::SIGTERM).unwrap();
    let lock = watchdog.lock_path.clone();
    poll_until(Duration::from_secs(5), || {
        let exists = lock.exists();
        async move {
            if exists {
                Err("lock file still there".to_owned())
            } else {
                Ok(())
            }
        }
    })
    .await
    .unwrap();
    assert!(
        watchdog.child.try_wait().unwrap().is_none(),
        "exited with a call in flight"
    );

    feed.send(Ok(Bytes::from_static(b"then done")))
        .await
        .unwrap();
    drop(feed);
    assert_eq!(res.text().await.unwrap(), "in flight, then done");
    let status = watchdog.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
}

#[actix_web::test]
async fn healthcheck_commands() {
    let watchdog = Binary::start(&[("fprocess", "cat")]);
    let port = watchdog.port.to_string();
    let lock = watchdog.lock_path.to_str().unwrap().to_owned();
    let run = |args: &[&str], port: &str| {
        Command::new(env!("CARGO_BIN_EXE_fwatchdog"))
            .args(args)
            .env("fprocess", "cat")
            .env("port", port)
            .env("lock_path", &lock)
            .output()
            .unwrap()
    };
    let client = reqwest::Client::new();
    poll_until(Duration::from_secs(10), || {
        let req = client.get(watchdog.url("/_/health")).send();
        async move {
            match req.await {
                Ok(r) if r.status() == 200 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await
    .unwrap();
    assert!(run(&["healthcheck"], &port).status.success());
    assert!(run(&["-run-healthcheck"], &port).status.success());
    let version = run(&["-version"], &port);
    assert!(String::from_utf8_lossy(&version.stdout).contains("fwatchdog"));

    let closed = crate::helpers::free_ports(1).to_string();
    assert!(!run(&["healthcheck"], &closed).status.success());
    std::fs::remove_file(&watchdog.lock_path).unwrap();
    let out = run(&["-run-healthcheck"], &port);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "unable to find lock file."
    );
}

#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "fprocess"),
        (&[("fprocess", "cat"), ("mode", "turbo")], "mode"),
        (&[("fprocess", "cat"), ("port", "http")], "port"),
        (
            &[("fprocess", "cat"), ("exec_timeout", "soon")],
            "exec_timeout",
        ),
        (&[("fprocess", "cat"), ("mode", "http")], "upstream_url"),
    ];
    for (env, variable) in cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fwatchdog"));
        cmd.env_remove("fprocess")
            .env("port", "0")
            .env("metrics_port", "0");
        for (k, v) in *env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?} should not start");
        assert!(stderr.contains(variable), "{env:?}: {stderr}");
    }
}
