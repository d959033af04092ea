//! HTTP routes: AlertManager's webhook (`POST /system/alert`), the decisions
//! (`GET /system/scaling-decisions`), `/metrics` and `/healthz`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use faas_provider::api::query_map;
use faas_provider::types::AlertWebhook;
use faas_provider::FunctionRef;
use std::fmt::Write as _;

use crate::chain;
use crate::decision::DecisionLog;
use crate::metrics::Metrics;
use crate::scaler::Scaler;

/// Where the decisions are listed.
pub const DECISIONS_PATH: &str = "/system/scaling-decisions";

fn text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body.into())
}

/// AlertManager's webhook (CONTRACT.md §4.4): each alert handled in turn; `200` with an
/// empty body, or `500` with one `[<index>] <error>` line per alert whose scaling failed.
pub async fn alert(
    body: Result<Bytes, actix_web::Error>,
    scaler: web::Data<Scaler>,
) -> HttpResponse {
    let body = match body {
        Ok(b) => b,
        Err(error) => {
            tracing::debug!(%error, "unreadable alert body");
            return text(StatusCode::BAD_REQUEST, "Unable to read alert.");
        }
    };
    if body.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "A body is required for this endpoint",
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let webhook: AlertWebhook = match serde_path_to_error::deserialize(de) {
        Ok(w) => w,
        Err(e) => {
            // The contract's sentence first, then the field that is wrong.
            let field = e.path().to_string();
            let inner = e.into_inner();
            let detail = if field == "." {
                inner.to_string()
            } else {
                format!("{field}: {inner}")
            };
            return text(
                StatusCode::BAD_REQUEST,
                format!("Unable to parse alert, bad format: {detail}"),
            );
        }
    };
    let mut errors = String::new();
    for (index, a) in webhook.alerts.iter().enumerate() {
        if let Err(e) = scaler.on_alert(a).await {
            let _ = writeln!(errors, "[{index}] {}", chain(&e));
        }
    }
    if errors.is_empty() {
        HttpResponse::Ok().finish()
    } else {
        text(StatusCode::INTERNAL_SERVER_ERROR, errors)
    }
}

/// `GET /system/scaling-decisions[?function=<name>]`: recent decisions, newest first.
pub async fn decisions(req: HttpRequest, log: web::Data<DecisionLog>) -> HttpResponse {
    let query = query_map(&req);
    match query.get("function").filter(|f| !f.is_empty()) {
        None => HttpResponse::Ok().json(log.all()),
        Some(f) => match FunctionRef::parse(f) {
            Ok(r) => HttpResponse::Ok().json(log.for_function(r.name.as_str())),
            Err(e) => text(
                StatusCode::BAD_REQUEST,
                format!("query parameter function: {e}"),
            ),
        },
    }
}

pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
