//! The floor for fork-per-call modes: spawn a program (default `cat`) in its own process group,
//! write a body to its stdin, read its stdout to the end, wait for it; as many at a time as
//! `--concurrency`, for `--seconds`, from a runtime with one thread per core (as the watchdog
//! spawns from one server thread per core). Prints `requests_per_sec p50_us p99_us`.
//!
//! `cargo run --release -p watchdog --example spawn_floor -- --concurrency 1 --seconds 5`

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

#[tokio::main]
async fn main() {
    let mut concurrency = 1usize;
    let mut seconds = 5u64;
    let mut body_bytes = 1024usize;
    let mut program = "cat".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().expect("every flag takes a value");
        match flag.as_str() {
            "--concurrency" => concurrency = value.parse().expect("--concurrency"),
            "--seconds" => seconds = value.parse().expect("--seconds"),
            "--body-bytes" => body_bytes = value.parse().expect("--body-bytes"),
            "--program" => program = value,
            other => panic!("unknown flag {other}"),
        }
    }
    let body = Arc::new(vec![b'a'; body_bytes]);
    let program = Arc::new(program);
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (body, program) = (body.clone(), program.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let t = Instant::now();
                    one(&program, &body).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("worker task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "{:.2} {:.1} {:.1}",
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}

async fn one(program: &str, body: &[u8]) {
    let mut child = Command::new(program)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let write = async move {
        stdin.write_all(body).await.expect("write");
    };
    let read = async move {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).await.expect("read");
        out
    };
    let ((), out) = tokio::join!(write, read);
    assert_eq!(out.len(), body.len());
    child.wait().await.expect("wait");
}
