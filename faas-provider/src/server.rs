//! Bind-then-serve: services bind first (port 0 in tests), report the port, then run until a
//! shutdown future resolves, letting in-flight requests finish.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};

use actix_web::HttpResponse;

/// Binds `addr`, naming it in the error.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))
}

/// Runs an actix server until `shutdown` resolves, then stops it gracefully (in-flight
/// requests finish within the server's shutdown timeout).
pub async fn run_until(
    server: actix_web::dev::Server,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = shutdown => {
            // The server future carries out the stop command, so it is polled alongside.
            let ((), result) = tokio::join!(handle.stop(true), server);
            result
        }
    }
}

/// `GET /healthz` for services with nothing further to check.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use actix_web::{web, App, HttpServer};

    use super::*;

    #[actix_rt::test]
    async fn run_until_returns_once_shutdown_resolves() {
        let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let server = HttpServer::new(|| App::new().route("/healthz", web::get().to(healthz)))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
        let stopped = tokio::time::timeout(Duration::from_secs(10), run_until(server, async {}))
            .await
            .expect("run_until returns after shutdown instead of waiting forever");
        stopped.unwrap();
    }
}
