//! A single-threaded HTTP upstream for bench/watchdog.sh: listens on `$PORT`, answers every
//! request with `ok` after reading its body, optionally burning `--cpu-ms` of CPU first (a
//! CPU-bound function on a one-thread runtime, as a Python or Node function would be).
//!
//! `PORT=5000 cargo run --release -p watchdog --example bench_upstream -- --cpu-ms 5`

use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .expect("PORT")
        .parse()
        .expect("PORT is a port number");
    let mut cpu = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--cpu-ms" => {
                let ms: u64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--cpu-ms N");
                cpu = Duration::from_millis(ms);
            }
            other => panic!("unknown flag {other}"),
        }
    }
    HttpServer::new(move || {
        App::new().default_service(web::to(move |_body: web::Bytes| async move {
            let until = Instant::now() + cpu;
            let mut x = 0u64;
            while Instant::now() < until {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            HttpResponse::Ok().body("ok")
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
