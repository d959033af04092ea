//! The provider HTTP API (CONTRACT.md §6.2) as actix routes over any `Provider`, and the one
//! place where a `ProviderError` becomes an HTTP status.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::Bytes;
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::auth::{Credentials, WWW_AUTHENTICATE};
use crate::error::ProviderError;
use crate::name::{FunctionName, FunctionRef};
use crate::provider::Provider;
use crate::types::{
    DeleteFunctionRequest, FunctionDeployment, LogRequest, ScaleServiceRequest, Secret,
};

/// Media type of the structured error body our client asks for.
pub const ERROR_JSON: &str = "application/json";

/// What the routes need besides the provider.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// The one namespace served; `?namespace=` naming another is a 404.
    pub namespace: String,
    /// Basic auth on `/system/*` when set.
    pub credentials: Option<Credentials>,
}

impl ProviderError {
    pub fn status(&self) -> StatusCode {
        use ProviderError::*;
        match self {
            Invalid(_) => StatusCode::BAD_REQUEST,
            FunctionNotFound(_) | SecretNotFound(_) | NamespaceNotFound(_) => StatusCode::NOT_FOUND,
            FunctionExists(_) | SecretExists(_) => StatusCode::CONFLICT,
            Unauthorized => StatusCode::UNAUTHORIZED,
            NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            Backend(_) => StatusCode::BAD_GATEWAY,
            Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer: JSON for clients that accept it, the message as text for everyone else
/// (faas-cli prints the body verbatim).
pub struct ApiError {
    error: ProviderError,
    json: bool,
}

impl ApiError {
    pub fn new(req: &HttpRequest, error: ProviderError) -> Self {
        let json = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains(ERROR_JSON));
        Self { error, json }
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.error, f)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if self.error == ProviderError::Unauthorized {
            res.insert_header((header::WWW_AUTHENTICATE, WWW_AUTHENTICATE));
        }
        if self.json {
            res.json(self.error.body())
        } else {
            res.content_type("text/plain; charset=utf-8")
                .body(self.error.to_string())
        }
    }
}

type ApiResult = Result<HttpResponse, ApiError>;

struct State {
    provider: Arc<dyn Provider>,
    config: ApiConfig,
}

impl State {
    /// `?namespace=` (or a body's `namespace`) must be empty or ours.
    fn check_namespace(&self, requested: Option<&str>) -> Result<(), ProviderError> {
        match requested {
            Some(ns) if !ns.is_empty() && ns != self.config.namespace => {
                Err(ProviderError::NamespaceNotFound(ns.to_owned()))
            }
            _ => Ok(()),
        }
    }
}

/// Mounts the provider API: `/system/*` (behind basic auth when configured) and `/healthz`.
pub fn configure(
    provider: Arc<dyn Provider>,
    config: ApiConfig,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let credentials = web::Data::new(config.credentials.clone());
        let state = web::Data::new(State { provider, config });
        cfg.app_data(state.clone())
            .service(
                web::scope("/system")
                    .app_data(state)
                    .app_data(credentials)
                    .wrap(from_fn(require_basic_auth))
                    .service(
                        web::resource("/functions")
                            .route(web::get().to(list))
                            .route(web::post().to(deploy))
                            .route(web::put().to(update))
                            .route(web::delete().to(delete)),
                    )
                    .service(web::resource("/function/{name}").route(web::get().to(get)))
                    .service(web::resource("/scale-function/{name}").route(web::post().to(scale)))
                    .service(web::resource("/endpoints/{name}").route(web::get().to(endpoints)))
                    .service(
                        web::resource("/secrets")
                            .route(web::get().to(list_secrets))
                            .route(web::post().to(create_secret))
                            .route(web::put().to(update_secret))
                            .route(web::delete().to(delete_secret)),
                    )
                    .service(web::resource("/logs").route(web::get().to(logs)))
                    .service(web::resource("/namespaces").route(web::get().to(namespaces)))
                    .service(web::resource("/info").route(web::get().to(info))),
            )
            .service(
                web::resource("/healthz")
                    .route(web::get().to(healthz))
                    .route(web::head().to(healthz)),
            );
    }
}

/// Middleware: 401 with `WWW-Authenticate` unless the request carries the configured
/// credentials (a `web::Data<Option<Credentials>>`); a no-op when none are configured.
pub async fn require_basic_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let allowed = match req.app_data::<web::Data<Option<Credentials>>>() {
        Some(creds) => match creds.as_ref() {
            Some(c) => c.verify(
                req.headers()
                    .get(header::AUTHORIZATION)
                    .map(|v| v.as_bytes()),
            ),
            None => true,
        },
        // Misconfigured wiring must not open the door.
        None => false,
    };
    if allowed {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let res = HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, WWW_AUTHENTICATE))
        .content_type("text/plain; charset=utf-8")
        .body("invalid credentials");
    Ok(req.into_response(res).map_into_right_body())
}

/// The query string as a map; the last of repeated keys wins (as Go's `Get` on a parsed form
/// would not, but as provider-sdk's log handler documents).
pub fn query_map(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

fn parse_json<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ProviderError> {
    if body.is_empty() {
        return Err(ProviderError::Invalid(format!(
            "a {what} JSON body is required"
        )));
    }
    // The path names the field that is wrong (`replicas: invalid value: integer -1 ...`).
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        if field == "." {
            ProviderError::Invalid(format!("invalid {what}: {inner}"))
        } else {
            ProviderError::Invalid(format!("invalid {what}: {field}: {inner}"))
        }
    })
}

fn name_from_path(req: &HttpRequest, state: &State) -> Result<FunctionName, ProviderError> {
    let segment = req.match_info().get("name").unwrap_or_default();
    let r = FunctionRef::parse(segment)?;
    state.check_namespace(r.namespace.as_deref())?;
    state.check_namespace(query_map(req).get("namespace").map(String::as_str))?;
    Ok(r.name)
}

fn accepted() -> HttpResponse {
    HttpResponse::Accepted().finish()
}

async fn list(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    let run = async {
        state.check_namespace(query_map(&req).get("namespace").map(String::as_str))?;
        state.provider.list().await
    };
    run.await
        .map(|l| HttpResponse::Ok().json(l))
        .map_err(|e| ApiError::new(&req, e))
}

async fn deploy(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let d: FunctionDeployment = parse_json(&body, "FunctionDeployment")?;
        state.check_namespace(Some(&d.namespace))?;
        validate_deployment(&d)?;
        state.provider.deploy(d).await
    };
    run.await
        .map(|()| accepted())
        .map_err(|e| ApiError::new(&req, e))
}

async fn update(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let d: FunctionDeployment = parse_json(&body, "FunctionDeployment")?;
        state.check_namespace(Some(&d.namespace))?;
        validate_deployment(&d)?;
        state.provider.update(d).await
    };
    run.await
        .map(|()| accepted())
        .map_err(|e| ApiError::new(&req, e))
}

/// Checks every provider would otherwise repeat.
fn validate_deployment(d: &FunctionDeployment) -> Result<(), ProviderError> {
    if d.image.trim().is_empty() {
        return Err(ProviderError::Invalid("image is required".into()));
    }
    if d.image.chars().any(char::is_whitespace) {
        return Err(ProviderError::Invalid(format!(
            "image {:?} is not a valid image reference: it contains whitespace",
            d.image
        )));
    }
    for s in &d.secrets {
        validate_secret_name(s)?;
    }
    Ok(())
}

/// A Docker secret name: 1–64 of letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub fn validate_secret_name(name: &str) -> Result<(), ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ProviderError::Invalid(format!(
            "secret name {name:?} is invalid: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )))
    }
}

async fn delete(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let d: DeleteFunctionRequest = parse_json(&body, "DeleteFunctionRequest")?;
        state.check_namespace(Some(&d.namespace))?;
        state.provider.delete(&d.function_name).await
    };
    run.await
        .map(|()| accepted())
        .map_err(|e| ApiError::new(&req, e))
}

async fn get(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    let run = async {
        let name = name_from_path(&req, &state)?;
        state.provider.get(&name).await
    };
    run.await
        .map(|s| HttpResponse::Ok().json(s))
        .map_err(|e| ApiError::new(&req, e))
}

async fn scale(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let name = name_from_path(&req, &state)?;
        let s: ScaleServiceRequest = parse_json(&body, "ScaleServiceRequest")?;
        state.check_namespace(Some(&s.namespace))?;
        state.provider.scale(&name, s.replicas).await
    };
    run.await
        .map(|()| accepted())
        .map_err(|e| ApiError::new(&req, e))
}

async fn endpoints(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    let run = async {
        let name = name_from_path(&req, &state)?;
        state.provider.endpoints(&name).await
    };
    run.await
        .map(|e| HttpResponse::Ok().json(e))
        .map_err(|e| ApiError::new(&req, e))
}

async fn list_secrets(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    let run = async {
        state.check_namespace(query_map(&req).get("namespace").map(String::as_str))?;
        state.provider.list_secrets().await
    };
    run.await
        .map(|l| HttpResponse::Ok().json(l))
        .map_err(|e| ApiError::new(&req, e))
}

fn parse_secret(state: &State, body: &Bytes, need_value: bool) -> Result<Secret, ProviderError> {
    let s: Secret = parse_json(body, "Secret")?;
    validate_secret_name(&s.name)?;
    state.check_namespace(Some(&s.namespace))?;
    if need_value && s.data().is_none() {
        return Err(ProviderError::Invalid(format!(
            "secret {} needs a value or rawValue",
            s.name
        )));
    }
    Ok(s)
}

async fn create_secret(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let s = parse_secret(&state, &body, true)?;
        state.provider.create_secret(s).await
    };
    run.await
        .map(|()| HttpResponse::Created().finish())
        .map_err(|e| ApiError::new(&req, e))
}

async fn update_secret(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let s = parse_secret(&state, &body, true)?;
        state.provider.update_secret(s).await
    };
    run.await
        .map(|()| HttpResponse::Ok().finish())
        .map_err(|e| ApiError::new(&req, e))
}

async fn delete_secret(req: HttpRequest, state: web::Data<State>, body: Bytes) -> ApiResult {
    let run = async {
        let s = parse_secret(&state, &body, false)?;
        state.provider.delete_secret(&s.name).await
    };
    run.await
        .map(|()| HttpResponse::Ok().finish())
        .map_err(|e| ApiError::new(&req, e))
}

/// Parses `/system/logs` parameters (§1.6.7), naming the parameter that is wrong.
pub fn parse_log_request(q: &HashMap<String, String>) -> Result<LogRequest, ProviderError> {
    let name = q
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ProviderError::Invalid("query parameter name is required".into()))?;
    let mut r = LogRequest::new(FunctionName::parse(name)?);
    r.namespace = q.get("namespace").filter(|n| !n.is_empty()).cloned();
    r.instance = q.get("instance").filter(|n| !n.is_empty()).cloned();
    if let Some(tail) = q.get("tail").filter(|t| !t.is_empty()) {
        let n: i64 = tail.parse().map_err(|_| {
            ProviderError::Invalid(format!("query parameter tail={tail:?} is not an integer"))
        })?;
        r.tail = u64::try_from(n).ok().filter(|n| *n > 0);
    }
    // Go's ParseBool: anything else is false.
    r.follow = matches!(
        q.get("follow").map(String::as_str),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    );
    if let Some(since) = q.get("since").filter(|s| !s.is_empty()) {
        let t = chrono::DateTime::parse_from_rfc3339(since).map_err(|_| {
            ProviderError::Invalid(format!("query parameter since={since:?} is not RFC 3339"))
        })?;
        r.since = Some(t.with_timezone(&chrono::Utc));
    }
    Ok(r)
}

async fn logs(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    let run = async {
        let r = parse_log_request(&query_map(&req))?;
        state.check_namespace(r.namespace.as_deref())?;
        state.provider.logs(r).await
    };
    let stream = run.await.map_err(|e| ApiError::new(&req, e))?;
    let body = stream.map(|item| match item {
        Ok(msg) => {
            let mut line = serde_json::to_vec(&msg).unwrap_or_default();
            line.push(b'\n');
            Ok(Bytes::from(line))
        }
        Err(e) => {
            tracing::warn!(error = %e, "log stream ended with an error");
            Err(actix_web::error::ErrorInternalServerError(e.to_string()))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(body))
}

async fn namespaces(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    state
        .provider
        .namespaces()
        .await
        .map(|n| HttpResponse::Ok().json(n))
        .map_err(|e| ApiError::new(&req, e))
}

async fn info(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    state
        .provider
        .info()
        .await
        .map(|i| HttpResponse::Ok().json(i))
        .map_err(|e| ApiError::new(&req, e))
}

async fn healthz(req: HttpRequest, state: web::Data<State>) -> ApiResult {
    state
        .provider
        .health()
        .await
        .map(|()| HttpResponse::Ok().finish())
        .map_err(|e| ApiError::new(&req, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_request_parsing_names_the_parameter() {
        let q = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let r = parse_log_request(&q(&[
            ("name", "figlet"),
            ("tail", "5"),
            ("follow", "true"),
            ("since", "2020-12-10T13:23:56Z"),
        ]))
        .unwrap();
        assert_eq!(r.tail, Some(5));
        assert!(r.follow);
        assert!(r.since.is_some());
        let r = parse_log_request(&q(&[("name", "figlet"), ("tail", "-1"), ("follow", "yes")]))
            .unwrap();
        assert_eq!(r.tail, None);
        assert!(!r.follow);
        for (pairs, word) in [
            (vec![], "name"),
            (vec![("name", "figlet"), ("tail", "x")], "tail"),
            (vec![("name", "figlet"), ("since", "yesterday")], "since"),
            (vec![("name", "Bad")], "lowercase"),
        ] {
            let err = parse_log_request(&q(&pairs)).unwrap_err().to_string();
            assert!(err.contains(word), "{err} should mention {word}");
        }
    }

    #[test]
    fn secret_names() {
        for ok in ["a", "api-key", "A_b.c1"] {
            assert!(validate_secret_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a b", "a/b", &"x".repeat(65)] {
            assert!(validate_secret_name(bad).is_err(), "{bad}");
        }
    }
}
