//! `POST /system/alert` and `GET /system/scaling-decisions`, forwarded to the alert-scaler, so
//! AlertManager configurations that point at the gateway keep working (CONTRACT.md §4).

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

/// The alert-scaler's base URL (`alert_scaler_url`) and a client to reach it.
pub struct AlertScaler {
    base: url::Url,
    client: reqwest::Client,
}

impl AlertScaler {
    pub fn new(base: url::Url, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self { base, client })
    }
}

/// Passes the method, body, `Authorization` and `Content-Type` on, and the alert-scaler's
/// status, `Content-Type` and body back. With no alert-scaler configured: 501 saying so.
pub async fn forward(
    req: HttpRequest,
    body: Bytes,
    scaler: Option<web::Data<AlertScaler>>,
) -> HttpResponse {
    let Some(scaler) = scaler else {
        return text(
            StatusCode::NOT_IMPLEMENTED,
            "autoscaling is not configured: set alert_scaler_url on the gateway".into(),
        );
    };
    let path = req.path().trim_start_matches('/');
    let mut url = match scaler.base.join(path) {
        Ok(u) => u,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    url.set_query(req.uri().query());
    let method = match reqwest::Method::from_bytes(req.method().as_str().as_bytes()) {
        Ok(m) => m,
        Err(_) => return HttpResponse::MethodNotAllowed().finish(),
    };
    let mut out = scaler.client.request(method, url).body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
        if let Some(v) = req.headers().get(&name) {
            out = out.header(name.as_str(), v.as_bytes());
        }
    }
    let res = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "alert-scaler unreachable");
            return text(
                StatusCode::BAD_GATEWAY,
                format!("the alert-scaler could not be reached: {e}"),
            );
        }
    };
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type = res.headers().get(reqwest::header::CONTENT_TYPE).cloned();
    let body = res.bytes().await.unwrap_or_default();
    let mut answer = HttpResponse::build(status);
    if let Some(ct) = content_type {
        answer.insert_header((header::CONTENT_TYPE, ct.as_bytes()));
    }
    answer.body(body)
}

fn text(status: StatusCode, message: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(message)
}
