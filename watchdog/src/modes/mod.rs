//! The function route: one handler per mode, chosen once at start-up.

pub mod classic;
pub mod http;
pub mod serializing;
pub mod static_files;
pub mod streaming;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::call::{text, Call};
use crate::watchdog::Watchdog;

/// How this watchdog serves a call.
pub enum Function {
    Classic(classic::Classic),
    Streaming(streaming::Streaming),
    Serializing(serializing::Serializing),
    Http(http::HttpProxy),
    /// Served by `actix_files` directly (see [`static_files`]).
    Static,
}

impl Function {
    /// Runs `call`; `client` is this server thread's upstream client (http mode only).
    pub async fn invoke(&self, call: Call, client: Option<&awc::Client>) -> HttpResponse {
        match self {
            Self::Classic(f) => f.invoke(call).await,
            Self::Streaming(f) => f.invoke(call).await,
            Self::Serializing(f) => f.invoke(call).await,
            Self::Http(f) => match client {
                Some(client) => f.invoke(call, client).await,
                None => {
                    tracing::error!("no upstream client on this server thread");
                    text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
                }
            },
            Self::Static => text(StatusCode::NOT_FOUND, "404 page not found\n"),
        }
    }
}

/// Every path and method not taken by `/_/health` and `/_/ready`.
pub async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    watchdog: web::Data<Watchdog>,
) -> HttpResponse {
    let config = &watchdog.config;
    let call = Call::new(
        &req,
        payload.into_inner(),
        config.read_timeout,
        config.call_timeout(),
    );
    watchdog
        .function
        .invoke(call, req.app_data::<awc::Client>())
        .await
}
