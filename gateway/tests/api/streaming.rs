//! Large bodies stream through the real `gateway` binary both ways with its memory flat.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use faas_provider::types::FunctionDeployment;
use faas_provider::{FunctionName, Provider};

use crate::helpers::{spawn_provider, spawn_upstream, zeros};

const GIB: u64 = 1 << 30;
/// Peak resident memory may grow by at most this while a GiB passes each way.
const MAX_GROWTH_KIB: u64 = 32 * 1024;

/// The gateway process, killed when the test ends however it ends.
struct Gateway {
    child: Child,
    port: u16,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    fn start(provider_url: &str) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .env_clear()
            .envs([
                ("functions_provider_url", provider_url),
                ("port", "0"),
                ("metrics_port", "0"),
                ("faas_prometheus_host", "127.0.0.1"),
                ("RUST_LOG", "info"),
                ("NO_COLOR", "1"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the gateway binary");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        // Reads the start-up line for the port, then keeps draining so the gateway never blocks.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = listening_port(&line) {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the gateway logged its port");
        Gateway { child, port }
    }

    /// `VmHWM` (peak resident set) of the process, in KiB.
    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status")
    }
}

/// `... gateway listening port=1234 metrics_port=...` -> 1234.
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("gateway listening") {
        return None;
    }
    let rest = &line[line.find(" port=")? + " port=".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[actix_web::test]
async fn a_gibibyte_streams_both_ways_with_flat_memory() {
    let provider = spawn_provider(None).await;
    let upstream = spawn_upstream("big").await;
    let name = FunctionName::parse("big").unwrap();
    provider
        .memory
        .deploy(FunctionDeployment {
            service: name.clone(),
            image: "test/big".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    provider
        .memory
        .set_upstreams(&name, vec![upstream.address.clone()]);
    let gateway = Gateway::start(&provider.url);
    let base = format!("http://127.0.0.1:{}/function/big", gateway.port);
    let client = reqwest::Client::new();

    // Warm up: workers, pools and the endpoint cache exist before the baseline.
    let res = client
        .post(format!("{base}/count"))
        .body(vec![0u8; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), (1u64 << 20).to_string());
    let baseline = gateway.peak_rss_kib();

    let start = Instant::now();
    let res = client
        .post(format!("{base}/count"))
        .body(reqwest::Body::wrap_stream(zeros(GIB)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        GIB.to_string(),
        "every byte reached the replica"
    );
    let upload = start.elapsed();

    let start = Instant::now();
    let mut res = client
        .get(format!("{base}/download?bytes={GIB}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut received = 0u64;
    while let Some(chunk) = res.chunk().await.unwrap() {
        received += chunk.len() as u64;
    }
    assert_eq!(received, GIB);
    let download = start.elapsed();

    let peak = gateway.peak_rss_kib();
    println!(
        "1 GiB up in {upload:?}, 1 GiB down in {download:?}; gateway peak RSS {baseline} KiB before, {peak} KiB after"
    );
    assert!(
        peak.saturating_sub(baseline) < MAX_GROWTH_KIB,
        "the gateway's peak RSS grew from {baseline} KiB to {peak} KiB"
    );
}

#[test]
fn parses_the_startup_line() {
    let line = "2024-01-01T00:00:00.000000Z  INFO gateway listening port=43121 metrics_port=40001 provider=http://127.0.0.1:1/";
    assert_eq!(listening_port(line), Some(43121));
    assert_eq!(listening_port("INFO something else port=1"), None);
}
