//! Benchmark driver for `bench/queue.sh`: enqueue rate through `Publisher`, and end-to-end
//! completions/s of the real worker binary against a no-op function, per `max_inflight`.
//!
//! Usage: queue_bench <nats_url> <worker_binary> <messages> <runs> <max_inflight...>

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{bail, Context};
use async_nats::jetstream;
use faas_provider::queue::{Publisher, REQUEST_STREAM};
use faas_provider::types::QueueRequest;
use futures::StreamExt;

const CONCURRENCY: usize = 64;
/// Messages for the slowest case (one call at a time), so a run stays short.
const SERIAL_MESSAGES: usize = 2_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        bail!("usage: queue_bench <nats_url> <worker_binary> <messages> <runs> <max_inflight...>");
    }
    let (url, worker) = (&args[1], &args[2]);
    let messages: usize = args[3].parse().context("messages")?;
    let runs: usize = args[4].parse().context("runs")?;
    let inflights: Vec<usize> = args[5..]
        .iter()
        .map(|a| a.parse())
        .collect::<Result<_, _>>()
        .context("max_inflight")?;

    let publisher = Publisher::connect(url, Duration::from_secs(5)).await?;
    while !publisher.is_connected() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let js = jetstream::new(async_nats::connect(url).await?);
    let upstream = NoOp::start()?;

    let mut serial = Vec::new();
    let mut concurrent = Vec::new();
    let mut e2e: Vec<Vec<f64>> = vec![Vec::new(); inflights.len()];
    for run in 1..=runs {
        purge(&js, &publisher).await?;
        serial.push(enqueue(&publisher, SERIAL_MESSAGES.min(messages), 1).await?);
        purge(&js, &publisher).await?;
        concurrent.push(enqueue(&publisher, messages, CONCURRENCY).await?);
        for (i, &k) in inflights.iter().enumerate() {
            purge(&js, &publisher).await?;
            let n = if k == 1 {
                SERIAL_MESSAGES.min(messages)
            } else {
                messages
            };
            enqueue(&publisher, n, CONCURRENCY).await?;
            e2e[i].push(complete(&js, worker, url, &upstream, k, n).await?);
        }
        eprintln!("run {run}/{runs} done");
    }

    println!("| per second, median of {runs} runs [all runs] | rate |");
    println!("|---|---|");
    println!(
        "| enqueues, 1 publisher waiting for each ack | {} |",
        summary(&serial)
    );
    println!(
        "| enqueues, {CONCURRENCY} concurrent publishes | {} |",
        summary(&concurrent)
    );
    for (i, k) in inflights.iter().enumerate() {
        println!(
            "| completions, max_inflight={k} (queue pre-filled) | {} |",
            summary(&e2e[i])
        );
    }
    Ok(())
}

fn summary(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let all: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
    format!("{median:.0} [{}]", all.join(", "))
}

fn request(i: usize) -> QueueRequest {
    let mut r = QueueRequest {
        method: "POST".into(),
        function: "noop".into(),
        body: b"{}".to_vec(),
        ..Default::default()
    };
    r.header
        .insert("X-Call-Id".into(), vec![format!("bench-{i}")]);
    r
}

/// Publishes `n` messages, `concurrency` at a time; returns messages/s.
async fn enqueue(publisher: &Publisher, n: usize, concurrency: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let r = request(i);
            async move { publisher.publish(&r).await }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

async fn purge(js: &jetstream::Context, publisher: &Publisher) -> anyhow::Result<()> {
    // The first publish creates the streams.
    publisher.publish(&request(0)).await?;
    js.get_stream(REQUEST_STREAM).await?.purge().await?;
    Ok(())
}

/// Starts the worker on a pre-filled queue of `n`; returns completions/s from its first call
/// to the queue being empty (every message acked).
async fn complete(
    js: &jetstream::Context,
    worker: &str,
    url: &str,
    upstream: &NoOp,
    inflight: usize,
    n: usize,
) -> anyhow::Result<f64> {
    upstream.reset();
    let (host, port) = url
        .trim_start_matches("nats://")
        .rsplit_once(':')
        .context("nats url")?;
    let mut child = std::process::Command::new(worker)
        .env_clear()
        .env("RUST_LOG", "warn")
        .env("faas_nats_address", host)
        .env("faas_nats_port", port)
        .env("faas_gateway_address", "127.0.0.1")
        .env("faas_gateway_port", upstream.port.to_string())
        .env("max_inflight", inflight.to_string())
        .env("port", "0")
        .spawn()
        .context("starting the worker")?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut stream = js.get_stream(REQUEST_STREAM).await?;
    let result = loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if upstream.calls() >= n as u64 && stream.info().await?.state.messages == 0 {
            let first = upstream.first().context("no call seen")?;
            break Ok(n as f64 / first.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!(
                "max_inflight={inflight}: {} of {n} calls after 600 s",
                upstream.calls()
            ));
        }
    };
    child.kill().ok();
    child.wait().ok();
    result
}

/// A function that answers 200 with nothing, counting calls.
struct NoOp {
    port: u16,
    calls: Arc<AtomicU64>,
    first: Arc<Mutex<Option<Instant>>>,
}

impl NoOp {
    fn start() -> anyhow::Result<NoOp> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let calls = Arc::new(AtomicU64::new(0));
        let first = Arc::new(Mutex::new(None));
        let (c, f) = (calls.clone(), first.clone());
        let server = HttpServer::new(move || {
            let (c, f) = (c.clone(), f.clone());
            App::new().default_service(web::to(move || {
                let (c, f) = (c.clone(), f.clone());
                async move {
                    if c.fetch_add(1, Ordering::Relaxed) == 0 {
                        if let Ok(mut first) = f.lock() {
                            *first = Some(Instant::now());
                        }
                    }
                    HttpResponse::Ok().finish()
                }
            }))
        })
        .workers(1)
        .backlog(4096)
        .listen(listener)?
        .run();
        tokio::spawn(server);
        Ok(NoOp { port, calls, first })
    }

    fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
        if let Ok(mut f) = self.first.lock() {
            *f = None;
        }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn first(&self) -> Option<Instant> {
        self.first.lock().ok().and_then(|f| *f)
    }
}
