//! of-watchdog http mode and the pool of workers, against a real Python upstream.

use std::collections::HashSet;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::helpers::{free_ports, poll_until, python_upstream, spawn_app, spawn_app_unready};

fn pid_of(body: &str) -> i32 {
    body.strip_prefix("pid=")
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {body:?}"))
}

#[actix_web::test]
async fn proxies_method_path_query_headers_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_ports(1);
    let upstream = format!("http://127.0.0.1:{port}");
    let app = spawn_app(&[
        ("mode", "http"),
        ("fprocess", &python_upstream(dir.path())),
        ("upstream_url", &upstream),
        ("ready_path", "/ready"),
        ("exec_timeout", "5s"),
    ])
    .await;

    let res = app
        .client
        .post(app.url("/fn/path?x=1&y=2"))
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-upstream"], "python");
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert!(res.headers().contains_key("x-duration-seconds"));
    let body = res.text().await.unwrap();
    let want = format!(
        "port={port} POST /fn/path?x=1&y=2 host=127.0.0.1:{} body=hi",
        app.port
    );
    assert!(body.ends_with(&want), "{body:?} should end with {want:?}");

    // A body too big to buffer is streamed with its Content-Length.
    let big = "b".repeat(300_000);
    let res = app
        .client
        .put(app.url("/big"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().ends_with(&format!("body={big}")));

    // ready_path: /_/ready is the function's own answer.
    let res = app.client.get(app.url("/_/ready")).send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(res.text().await.unwrap(), "upstream ready");

    // X-Timeout shortens exec_timeout: the upstream's one-second /sleep is cut at 200ms.
    let res = app
        .client
        .get(app.url("/sleep"))
        .header("X-Timeout", "200ms")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);
    assert_eq!(res.headers()["x-openfaas-internal"], "of-watchdog");
    assert!(res.headers().contains_key("x-duration-seconds"));
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn a_pool_keeps_serving_when_a_worker_dies() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports(2);
    let upstream = format!("http://127.0.0.1:{base}");
    let app = spawn_app(&[
        ("mode", "http"),
        ("fprocess", &python_upstream(dir.path())),
        ("upstream_url", &upstream),
        ("workers", "2"),
    ])
    .await;
    let pool = app.pool.clone().unwrap();
    // Healthy means at least one worker; wait for both.
    poll_until(Duration::from_secs(20), || {
        let ready: Vec<bool> = pool.workers().iter().map(|w| w.is_ready()).collect();
        async move {
            if ready.iter().all(|r| *r) {
                Ok(())
            } else {
                Err(format!("ready: {ready:?}"))
            }
        }
    })
    .await
    .unwrap();
    let pids: HashSet<i32> = pool.workers().iter().map(|w| w.pid().unwrap()).collect();
    assert_eq!(pids.len(), 2);

    // Each worker was told its own port.
    let mut seen = HashSet::new();
    for _ in 0..10 {
        let body = app
            .client
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen.insert(pid_of(&body));
        let port: u16 = body
            .split("port=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(port == base || port == base + 1, "{body}");
    }
    assert_eq!(seen, pids, "calls spread over both workers");

    let victim = pool.workers()[0].pid().unwrap();
    kill(Pid::from_raw(victim), Signal::SIGKILL).unwrap();

    for i in 0..20 {
        let res = app
            .client
            .post(app.url("/"))
            .body(format!("call {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "sequential call {i} after the kill");
    }
    let concurrent = (0..10).map(|i| {
        let req = app
            .client
            .post(app.url("/"))
            .body(format!("concurrent {i}"))
            .send();
        async move { req.await.map(|r| r.status().as_u16()) }
    });
    for status in futures::future::join_all(concurrent).await {
        assert_eq!(status.unwrap(), 200);
    }

    // The dead worker is restarted and serves again.
    let worker = pool.workers()[0].clone();
    let new_pid = poll_until(Duration::from_secs(20), || {
        let (pid, ready) = (worker.pid(), worker.is_ready());
        async move {
            match pid {
                Some(p) if p != victim && ready => Ok(p),
                _ => Err(format!("worker 0: pid {pid:?}, ready {ready}")),
            }
        }
    })
    .await
    .unwrap();
    let client = app.client.clone();
    let url = app.url("/");
    poll_until(Duration::from_secs(10), || {
        let req = client.get(&url).send();
        async move {
            let body = req
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            if pid_of(&body) == new_pid {
                Ok(())
            } else {
                Err(format!("answered by {}", pid_of(&body)))
            }
        }
    })
    .await
    .unwrap();
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains(r#"code="500""#),
        "no call failed: {metrics}"
    );
    app.stop().await.unwrap();
}

#[actix_web::test]
async fn no_ready_worker_means_not_ready_and_503() {
    let port = free_ports(1);
    let upstream = format!("http://127.0.0.1:{port}");
    // A worker that never listens.
    let app = spawn_app_unready(&[
        ("mode", "http"),
        ("fprocess", "sleep 300"),
        ("upstream_url", &upstream),
        ("exec_timeout", "300ms"),
    ])
    .await;
    let res = app.client.get(app.url("/_/health")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let res = app.client.get(app.url("/_/ready")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(
        !app.lock_path.exists(),
        "no lock file before a worker is ready"
    );
    let res = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.text().await.unwrap(), "no upstream worker is ready\n");
    app.stop().await.unwrap();
}
