//! The queue-worker against a real `nats-server -js` and real HTTP servers standing in for the
//! gateway (and its functions) and for callback receivers.

mod helpers;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::nats::NatsServer;
use faas_provider::auth::Credentials;
use faas_provider::client::HttpProvider;
use faas_provider::queue::{QueueName, DEFAULT_QUEUE, REQUEST_STREAM};
use faas_provider::types::QueueRequest;
use faas_provider::{FunctionName, Provider};
use helpers::*;

const DURABLE: &str = "faas-request-workers";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_complete_exactly_once() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let _app = spawn_app(&nats, &upstream, &[("max_inflight", "50")]).await;
    let publisher = publisher(&nats).await;
    let ids: Vec<String> = (0..1000).map(|i| format!("call-{i}")).collect();
    let publisher = &publisher;
    let publishes = ids.iter().map(|id| {
        let r = request("echo", id, None);
        async move { publisher.publish(&r).await }
    });
    for result in futures::future::join_all(publishes).await {
        result.expect("publish");
    }

    let js = jetstream(&nats).await;
    wait_until_drained(&js, DURABLE).await;
    let counts = upstream.counts();
    let missing: Vec<_> = ids.iter().filter(|id| !counts.contains_key(*id)).collect();
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(missing.is_empty(), "never called: {missing:?}");
    assert!(repeated.is_empty(), "called more than once: {repeated:?}");
    assert_eq!(counts.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_call_is_retried_and_its_callback_reports_the_retries() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let receiver = Receiver::start(0);
    let app = spawn_app(&nats, &upstream, &[]).await;
    let publisher = publisher(&nats).await;
    let mut req = request("flaky", "flaky-1", Some(&receiver.url()));
    req.method = "PUT".into();
    req.path = "/a/b".into();
    req.query_string = "x=1&y=two".into();
    req.header.insert("X-Custom".into(), vec!["kept".into()]);
    publisher.publish(&req).await.expect("publish");

    let callback = until(WAIT, || async {
        receiver
            .seen()
            .into_iter()
            .next()
            .ok_or_else(|| format!("no callback; upstream saw {} calls", upstream.seen().len()))
    })
    .await
    .expect("callback")
    .0;
    assert_eq!(callback.method, "POST");
    assert_eq!(callback.path, "/callback");
    assert_eq!(callback.query, "from=worker");
    assert_eq!(callback.header("X-Function-Status"), "200");
    assert_eq!(callback.header("X-Function-Name"), "flaky");
    assert_eq!(callback.header("X-Call-Id"), "flaky-1");
    assert_eq!(callback.header("X-Retry"), "2");
    assert_eq!(callback.header("X-Retry-Max"), "4");
    assert_eq!(callback.header("X-Fn-Header"), "from-function");
    assert_eq!(callback.header("Content-Type"), "text/plain");
    let duration: f64 = callback
        .header("X-Duration-Seconds")
        .parse()
        .expect("seconds");
    assert!(duration < 5.0 && callback.header("X-Duration-Seconds") != "0.000123");
    assert_eq!(&callback.body[..], b"body-flaky-1");

    let calls = upstream.seen();
    assert_eq!(calls.len(), 3, "429, 503, then 200");
    for call in &calls {
        assert_eq!(call.method, "PUT");
        assert_eq!(call.path, "/function/flaky/a/b");
        assert_eq!(call.query, "x=1&y=two");
        assert_eq!(call.header("X-Custom"), "kept");
        assert_eq!(call.header("Content-Type"), "text/plain");
        assert_eq!(&call.body[..], b"body-flaky-1");
    }
    let js = jetstream(&nats).await;
    wait_until_drained(&js, DURABLE).await;
    let m = app.metrics().await;
    let series = |s: &str| metric(&m, s);
    assert_eq!(
        series(r#"queue_worker_calls_retried_total{function_name="flaky",code="429"}"#),
        1.0,
        "{m}"
    );
    assert_eq!(
        series(r#"queue_worker_calls_retried_total{function_name="flaky",code="503"}"#),
        1.0
    );
    assert_eq!(
        series(r#"queue_worker_calls_succeeded_total{function_name="flaky"}"#),
        1.0
    );
    assert_eq!(
        series(r#"queue_worker_messages_received_total{queue="faas-request"}"#),
        3.0
    );
    assert_eq!(
        series(r#"queue_worker_calls_inflight{queue="faas-request"}"#),
        0.0
    );
    assert!(
        m.contains("queue_worker_call_duration_seconds_bucket"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_always_fails_is_dead_lettered_after_the_last_attempt() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let receiver = Receiver::start(0);
    let app = spawn_app(&nats, &upstream, &[("max_retry_attempts", "3")]).await;
    let publisher = publisher(&nats).await;
    publisher
        .publish(&request("fail", "fail-default", Some(&receiver.url())))
        .await
        .expect("publish");
    // A function's annotations override the worker's attempts.
    let mut two = request("fail", "fail-annotated", None);
    two.annotations
        .insert("com.openfaas.retry.attempts".into(), "2".into());
    publisher.publish(&two).await.expect("publish");
    // A status that is not retried is final: no retry, no dead letter.
    publisher
        .publish(&request("bad", "bad-1", Some(&receiver.url())))
        .await
        .expect("publish");

    let js = jetstream(&nats).await;
    wait_until_drained(&js, DURABLE).await;
    let counts = upstream.counts();
    assert_eq!(counts.get("fail-default"), Some(&3));
    assert_eq!(counts.get("fail-annotated"), Some(&2));
    assert_eq!(counts.get("bad-1"), Some(&1));

    let letters = dead_letters(&js).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    for (id, attempts) in [("fail-default", 3), ("fail-annotated", 2)] {
        let letter = letters
            .iter()
            .find(|l| {
                serde_json::from_slice::<QueueRequest>(&l.payload)
                    .is_ok_and(|r| r.header("X-Call-Id") == Some(id))
            })
            .unwrap_or_else(|| panic!("no dead letter for {id}: {letters:?}"));
        assert_eq!(letter.status, Some(500));
        assert_eq!(letter.attempts, attempts);
        assert_eq!(letter.function.as_deref(), Some("fail"));
        assert!(letter.queue.is_default());
        assert!(letter.error.contains("500"), "{}", letter.error);
    }

    let callbacks = receiver.seen();
    assert_eq!(callbacks.len(), 2, "one final callback per call");
    let fail = callbacks
        .iter()
        .find(|(s, _)| s.call_id() == "fail-default")
        .expect("callback of the failed call");
    assert_eq!(fail.0.header("X-Function-Status"), "500");
    assert_eq!(fail.0.header("X-Retry"), "2");
    assert_eq!(fail.0.header("X-Retry-Max"), "2");
    assert_eq!(&fail.0.body[..], b"boom");
    let bad = callbacks
        .iter()
        .find(|(s, _)| s.call_id() == "bad-1")
        .expect("callback of the bad call");
    assert_eq!(bad.0.header("X-Function-Status"), "400");
    assert_eq!(bad.0.header("X-Retry"), "0");

    let m = app.metrics().await;
    assert_eq!(
        metric(
            &m,
            r#"queue_worker_calls_dead_lettered_total{function_name="fail"}"#
        ),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"queue_worker_calls_failed_total{function_name="bad",code="400"}"#
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_message_is_dead_lettered_not_dropped() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let _app = spawn_app(&nats, &upstream, &[]).await;
    let js = jetstream(&nats).await;
    js.publish(REQUEST_STREAM, "not json".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    wait_until_drained(&js, DURABLE).await;
    let letters = dead_letters(&js).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(&letters[0].payload[..], b"not json");
    assert_eq!(letters[0].status, None);
    assert!(
        letters[0].error.contains("not a QueueRequest"),
        "{}",
        letters[0].error
    );
    assert!(upstream.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_consumes_only_its_named_queue() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let _slow = spawn_app(&nats, &upstream, &[("queue", "slow")]).await;
    let publisher = publisher(&nats).await;
    let mut named = request("echo", "to-slow", None);
    named.queue_name = "slow".into();
    publisher.publish(&named).await.expect("publish");
    publisher
        .publish(&request("echo", "to-default", None))
        .await
        .expect("publish");

    let js = jetstream(&nats).await;
    wait_until_consumed(&js, "slow-workers", 1).await;
    assert_eq!(upstream.counts().get("to-slow"), Some(&1));
    // The default queue's call waits for a default-queue worker.
    assert!(!upstream.counts().contains_key("to-default"));
    let _default = spawn_app(&nats, &upstream, &[("queue", DEFAULT_QUEUE)]).await;
    wait_until_drained(&js, DURABLE).await;
    assert_eq!(upstream.counts().get("to-default"), Some(&1));
    assert_eq!(QueueName::parse("slow").unwrap().durable(), "slow-workers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_gateway_calls_go_to_a_ready_replica_and_are_reported() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let receiver = Receiver::start(0);
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("basic-auth-user"), "admin").unwrap();
    std::fs::write(secrets.path().join("basic-auth-password"), "s3cret").unwrap();
    let credentials = Credentials::new("admin", "s3cret");
    let api = ProviderApi::start(credentials.clone());
    let deployment = serde_json::from_value(serde_json::json!({"service": "echo", "image": "x"}))
        .expect("deployment");
    api.provider.deploy(deployment).await.expect("deploy");
    let name = FunctionName::parse("echo").unwrap();
    api.provider
        .set_upstreams(&name, vec![format!("127.0.0.1:{}", upstream.port)]);
    let provider = HttpProvider::new(&api.url, Some(credentials.clone()), Duration::from_secs(5))
        .expect("provider client");
    let _app = spawn_app_with(
        &nats,
        &upstream,
        &[
            ("gateway_invoke", "false"),
            ("functions_provider_url", &api.url),
            ("basic_auth", "true"),
            ("secret_mount_path", secrets.path().to_str().unwrap()),
        ],
        Some(Arc::new(provider)),
    )
    .await;
    let publisher = publisher(&nats).await;
    let mut req = request("echo.openfaas-fn", "direct-1", Some(&receiver.url()));
    req.path = "/sub".into();
    req.query_string = "q=1".into();
    publisher.publish(&req).await.expect("publish");
    publisher
        .publish(&request("missing", "direct-404", Some(&receiver.url())))
        .await
        .expect("publish");

    let js = jetstream(&nats).await;
    wait_until_drained(&js, DURABLE).await;
    let seen = upstream.seen();
    let call = seen
        .iter()
        .find(|s| s.call_id() == "direct-1")
        .expect("the replica was called");
    assert_eq!((call.path.as_str(), call.query.as_str()), ("/sub", "q=1"));
    let reports: Vec<serde_json::Value> = seen
        .iter()
        .filter(|s| s.path == "/system/async-report")
        .map(|s| {
            assert_eq!(s.header("Authorization"), credentials.header_value());
            serde_json::from_slice(&s.body).expect("report JSON")
        })
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports
        .iter()
        .any(|r| r["name"] == "echo.openfaas-fn" && r["statusCode"] == 200));
    assert!(reports
        .iter()
        .any(|r| r["name"] == "missing" && r["statusCode"] == 404));
    let statuses: HashSet<(String, String)> = receiver
        .seen()
        .iter()
        .map(|(s, _)| (s.call_id(), s.header("X-Function-Status").to_owned()))
        .collect();
    assert!(
        statuses.contains(&("direct-1".into(), "200".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("direct-404".into(), "404".into())),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_receiver_that_is_down_is_retried() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let receiver = Receiver::start(2);
    let app = spawn_app(&nats, &upstream, &[("callback_max_attempts", "4")]).await;
    let publisher = publisher(&nats).await;
    publisher
        .publish(&request("echo", "cb-1", Some(&receiver.url())))
        .await
        .expect("publish");
    // Nothing listens on this one: every attempt is refused, and the call still completes.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    publisher
        .publish(&request(
            "echo",
            "cb-closed",
            Some(&format!("http://127.0.0.1:{closed}/cb")),
        ))
        .await
        .expect("publish");

    let js = jetstream(&nats).await;
    wait_until_drained(&js, DURABLE).await;
    let seen = receiver.seen();
    let statuses: Vec<u16> = seen.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        statuses,
        vec![503, 503, 200],
        "two refusals, then delivered"
    );
    for (s, _) in &seen {
        assert_eq!(s.call_id(), "cb-1");
        assert_eq!(s.header("X-Function-Status"), "200");
        assert_eq!(&s.body[..], b"body-cb-1");
    }
    assert_eq!(
        upstream.counts().get("cb-1"),
        Some(&1),
        "the function runs once"
    );
    assert_eq!(upstream.counts().get("cb-closed"), Some(&1));
    let m = app.metrics().await;
    assert_eq!(
        metric(&m, r#"queue_worker_callbacks_total{result="delivered"}"#),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, r#"queue_worker_callbacks_total{result="failed"}"#),
        1.0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_shutdown_in_flight_calls_finish_or_are_handed_back() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let receiver = Receiver::start(0);
    let publisher = publisher(&nats).await;
    let js = jetstream(&nats).await;

    // 1. Calls that finish within shutdown_timeout complete and are acked.
    let mut app = spawn_app(&nats, &upstream, &[("ack_wait", "60s")]).await;
    for i in 0..3 {
        publisher
            .publish(&request(
                "hold",
                &format!("finish-{i}"),
                Some(&receiver.url()),
            ))
            .await
            .expect("publish");
    }
    wait_in_flight(&upstream, 3).await;
    app.signal_stop();
    until(WAIT, || async {
        match app.healthz().await {
            503 => Ok(()),
            s => Err(format!("/healthz {s}")),
        }
    })
    .await
    .expect("the worker stops pulling");
    upstream.release();
    app.stopped().await;
    assert_eq!(receiver.delivered().len(), 3);
    let state = queue_state(&js, DURABLE).await;
    assert_eq!((state.stored, state.ack_pending), (0, 0), "{state:?}");

    // 2. Calls still running at the bound are handed back at once, long before ack_wait.
    let upstream = Upstream::start();
    let app = spawn_app(
        &nats,
        &upstream,
        &[("ack_wait", "60s"), ("shutdown_timeout", "200ms")],
    )
    .await;
    for i in 0..3 {
        publisher
            .publish(&request(
                "hold",
                &format!("back-{i}"),
                Some(&receiver.url()),
            ))
            .await
            .expect("publish");
    }
    wait_in_flight(&upstream, 3).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), app.stopped())
        .await
        .expect("shutdown is bounded");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Handed back, not left to time out: a new worker completes them long before ack_wait.
    let state = queue_state(&js, DURABLE).await;
    assert_eq!(state.stored, 3, "{state:?}");
    upstream.release();
    let _next = spawn_app(&nats, &upstream, &[("ack_wait", "60s")]).await;
    until(WAIT, || async {
        let n = receiver.delivered().len();
        if n == 6 {
            Ok(())
        } else {
            Err(format!("{n} callbacks"))
        }
    })
    .await
    .expect("a new worker completes the handed-back calls");
}

async fn wait_in_flight(upstream: &Upstream, n: usize) {
    until(WAIT, || async {
        let now = upstream.in_flight();
        if now == n {
            Ok(())
        } else {
            Err(format!("{now} calls in flight"))
        }
    })
    .await
    .expect("calls in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_and_a_restart_every_call_completes() {
    let nats = NatsServer::start().await;
    let upstream = Upstream::start();
    let receiver = Receiver::start(0);
    let publisher = publisher(&nats).await;
    let ids: Vec<String> = (0..100).map(|i| format!("kill-{i}")).collect();
    for id in &ids {
        publisher
            .publish(&request("hold", id, Some(&receiver.url())))
            .await
            .expect("publish");
    }
    let log = tempfile::NamedTempFile::new().unwrap();
    let env: Vec<(String, String)> = base_env(&nats, &upstream)
        .into_iter()
        .chain([
            ("max_inflight".to_owned(), "100".to_owned()),
            ("ack_wait".to_owned(), "2s".to_owned()),
        ])
        .collect();
    let spawn_worker = || {
        Command::new(env!("CARGO_BIN_EXE_queue-worker"))
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("start queue-worker")
    };
    let log_text = || std::fs::read_to_string(log.path()).unwrap_or_default();

    let mut first = spawn_worker();
    until(WAIT, || async {
        let n = upstream.in_flight();
        if n == 100 {
            Ok(())
        } else {
            Err(format!("{n} in flight; worker log:\n{}", log_text()))
        }
    })
    .await
    .expect("100 calls in flight");
    first.kill().expect("kill -9");
    first.wait().expect("reap");
    upstream.release();

    let mut second = spawn_worker();
    let result = until(WAIT, || async {
        let done = receiver.delivered();
        let missing = ids.iter().filter(|id| !done.contains_key(*id)).count();
        if missing == 0 {
            Ok(done)
        } else {
            Err(format!("{missing} calls not completed"))
        }
    })
    .await;
    let js = jetstream(&nats).await;
    wait_until_drained(&js, DURABLE).await;
    second.kill().ok();
    second.wait().ok();
    let done = result.unwrap_or_else(|e| panic!("{e}\nworker log:\n{}", log_text()));
    let duplicate_callbacks = done.values().filter(|n| **n > 1).count();
    let calls = upstream.counts();
    let reinvoked = calls.values().filter(|n| **n > 1).count();
    println!(
        "kill -9 with 100 in flight: every call completed; {reinvoked} calls were invoked again \
         after the restart (they were running when the worker died), {duplicate_callbacks} \
         callbacks were duplicated"
    );
    assert_eq!(done.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_never_reports_success_for_a_message_that_was_not_stored() {
    let mut nats = NatsServer::start().await;
    let publisher = Arc::new(publisher(&nats).await);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (publisher, acked, failed, stop) = (
            publisher.clone(),
            acked.clone(),
            failed.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("pub-{t}-{i}");
                i += 1;
                match publisher.publish(&request("echo", &id, None)).await {
                    Ok(()) => acked.lock().unwrap().push(id),
                    Err(e) => {
                        assert!(e.is_unavailable(), "{e}");
                        failed.lock().unwrap().push(id);
                        // Fails fast while NATS is down; yield so the loop does not spin.
                        tokio::task::yield_now().await;
                    }
                }
            }
        }));
    }
    until(WAIT, || async {
        let n = acked.lock().unwrap().len();
        if n >= 500 {
            Ok(())
        } else {
            Err(format!("{n} acked"))
        }
    })
    .await
    .expect("publishing works");
    nats.stop().await;
    let acked_before_restart = until(WAIT, || async {
        let n = failed.lock().unwrap().len();
        if n >= 100 {
            Ok(acked.lock().unwrap().len())
        } else {
            Err(format!("{n} failed"))
        }
    })
    .await
    .expect("publishing fails while NATS is down");
    nats.restart().await;
    until(WAIT, || async {
        let n = acked.lock().unwrap().len();
        if n >= acked_before_restart + 100 {
            Ok(())
        } else {
            Err(format!(
                "{n} acked, {acked_before_restart} before the restart"
            ))
        }
    })
    .await
    .expect("publishing recovers after NATS comes back");
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("publisher task");
    }

    let js = jetstream(&nats).await;
    let mut stream = js.get_stream(REQUEST_STREAM).await.expect("stream");
    let state = stream.info().await.expect("info").state.clone();
    let mut stored = HashSet::new();
    for seq in state.first_sequence..=state.last_sequence {
        let m = stream.get_raw_message(seq).await.expect("stored message");
        let r: QueueRequest = serde_json::from_slice(&m.payload).expect("payload");
        stored.insert(r.header("X-Call-Id").unwrap_or_default().to_owned());
    }
    let acked = acked.lock().unwrap().clone();
    let failed = failed.lock().unwrap().clone();
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    let stored_anyway = failed.iter().filter(|id| stored.contains(*id)).count();
    println!(
        "publisher vs NATS stop: {} acked, {} refused, {} refused but stored anyway",
        acked.len(),
        failed.len(),
        stored_anyway
    );
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_refuses_what_nats_cannot_carry_and_bad_queue_names() {
    let nats = NatsServer::start().await;
    let publisher = publisher(&nats).await;
    let mut big = request("echo", "big", None);
    big.body = vec![b'x'; 2 * 1024 * 1024];
    let err = publisher.publish(&big).await.unwrap_err();
    assert!(
        matches!(err, faas_provider::queue::QueueError::TooLarge { .. }),
        "{err}"
    );
    assert!(!err.is_unavailable());
    let mut bad = request("echo", "bad-queue", None);
    bad.queue_name = "a.b".into();
    let err = publisher.publish(&bad).await.unwrap_err();
    assert!(err.to_string().contains("a.b"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_processes_one_message_without_nats() {
    use queue_worker::callback::Callback;
    use queue_worker::handler::{Delivery, Failure, Handler, Outcome};
    use queue_worker::invoker::Invoker;
    use queue_worker::metrics::Metrics;
    use queue_worker::retry::RetryPolicy;

    let upstream = Upstream::start();
    let client = reqwest::Client::new();
    let gateway = format!("http://127.0.0.1:{}", upstream.port);
    let policy = RetryPolicy {
        max_attempts: 3,
        codes: vec![429, 503],
        min_wait: Duration::from_millis(10),
        max_wait: Duration::from_millis(40),
    };
    let handler = Handler::new(
        Invoker::via_gateway(client.clone(), &gateway, Duration::from_secs(5)),
        Callback::new(client, policy.clone(), Duration::from_secs(5)),
        None,
        policy,
        Metrics::new(),
    );
    let delivery = |r: &QueueRequest, attempt| Delivery {
        payload: serde_json::to_vec(r).unwrap().into(),
        attempt,
    };
    let flaky = request("flaky", "h-1", None);
    // 429 with `Retry-After: 0`: the wait is floored at the minimum.
    assert_eq!(
        handler.process(&delivery(&flaky, 1)).await,
        Outcome::Retry(Duration::from_millis(10))
    );
    match handler.process(&delivery(&flaky, 2)).await {
        Outcome::Retry(wait) => assert!(wait <= Duration::from_millis(20), "{wait:?}"),
        other => panic!("503 is retried: {other:?}"),
    }
    assert_eq!(handler.process(&delivery(&flaky, 3)).await, Outcome::Done);
    // Delivered more often than allowed (a worker died mid-call): no further call.
    let before = upstream.seen().len();
    assert_eq!(
        handler
            .process(&delivery(&request("echo", "h-2", None), 4))
            .await,
        Outcome::DeadLetter(Failure {
            function: Some("echo".into()),
            status: None,
            error: "delivered 4 times, more than the 3 attempts allowed".into(),
        })
    );
    assert_eq!(upstream.seen().len(), before);
    match handler
        .process(&delivery(&request("Bad_Name", "h-3", None), 1))
        .await
    {
        Outcome::DeadLetter(f) => assert!(f.error.contains("Bad_Name"), "{f:?}"),
        other => panic!("an invalid name cannot be called: {other:?}"),
    }
}
