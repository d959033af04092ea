//! Benchmark backend for `bench/gateway.sh`: the in-memory provider behind the provider HTTP API
//! with one function, `hello`, whose single replica is a tiny actix server answering `hello`,
//! after spinning `busy_us` microseconds of CPU per call (0 by default) to stand in for work.
//!
//! Usage: `bench_backend <provider_port> <upstream_port> [busy_us]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use faas_provider::api::{self, ApiConfig};
use faas_provider::memory::InMemoryProvider;
use faas_provider::types::FunctionDeployment;
use faas_provider::{FunctionName, Provider, DEFAULT_NAMESPACE};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let provider_port: u16 = args.next().context("provider port")?.parse()?;
    let upstream_port: u16 = args.next().context("upstream port")?.parse()?;
    let busy = Duration::from_micros(args.next().map(|a| a.parse()).transpose()?.unwrap_or(0));

    let upstream = HttpServer::new(move || {
        App::new().default_service(web::to(move || async move {
            let until = Instant::now() + busy;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            HttpResponse::Ok().body("hello\n")
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", upstream_port))?
    .run();

    let memory = InMemoryProvider::new(DEFAULT_NAMESPACE);
    let name = FunctionName::parse("hello")?;
    memory
        .deploy(FunctionDeployment {
            service: name.clone(),
            image: "bench/hello".into(),
            ..Default::default()
        })
        .await?;
    memory.set_upstreams(&name, vec![format!("127.0.0.1:{upstream_port}")]);
    let provider: Arc<dyn Provider> = Arc::new(memory);
    let config = ApiConfig {
        namespace: DEFAULT_NAMESPACE.into(),
        credentials: None,
    };
    let provider_server = HttpServer::new(move || {
        App::new().configure(api::configure(provider.clone(), config.clone()))
    })
    .workers(1)
    .bind(("127.0.0.1", provider_port))?
    .run();
    println!("provider on {provider_port}, upstream on {upstream_port}");
    futures::try_join!(upstream, provider_server)?;
    Ok(())
}
