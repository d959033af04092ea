//! `GET /_/health` and `GET /_/ready`, as the Go watchdogs answer them (other methods: 405).
//!
//! Health: 200 `OK` while accepting calls and the lock file exists, else 503. Ready: 503 when
//! not healthy (or, in http mode, no worker is ready), 429 when `max_inflight` is reached,
//! then the function's own answer for `ready_path` when that is set, else 200.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::call::Call;
use crate::watchdog::Watchdog;

pub async fn health(watchdog: web::Data<Watchdog>) -> HttpResponse {
    if watchdog.lifecycle.healthy() {
        HttpResponse::Ok().body("OK")
    } else {
        HttpResponse::ServiceUnavailable().finish()
    }
}

pub async fn ready(req: HttpRequest, watchdog: web::Data<Watchdog>) -> HttpResponse {
    let no_worker = watchdog.pool.as_ref().is_some_and(|p| !p.any_ready());
    if !watchdog.lifecycle.healthy() || no_worker {
        return HttpResponse::ServiceUnavailable().finish();
    }
    if watchdog.calls.at_limit() {
        return HttpResponse::TooManyRequests().finish();
    }
    match &watchdog.config.ready_path {
        Some(path) => {
            let call = Call::probe(&req, path, watchdog.config.call_timeout());
            watchdog
                .function
                .invoke(call, req.app_data::<awc::Client>())
                .await
        }
        None => HttpResponse::Ok().finish(),
    }
}
