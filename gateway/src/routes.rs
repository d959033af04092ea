//! The main listener's route table (CONTRACT.md §1.3).
//!
//! `/system/*` and `/healthz` are faas-provider's API over `GatewayProvider` (so auth, namespace
//! checks, error mapping and statuses are the providers' own); the gateway registers only what
//! differs in front of it: the proxy, `/async-function/*` (when NATS is configured), the
//! alert-scaler's routes (behind basic auth), `/system/info`, the UI and the redirect.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};
use faas_provider::api::{self, require_basic_auth, ApiConfig};
use faas_provider::Provider;

use crate::alerts::{self, AlertScaler};
use crate::async_call::{self, AsyncInvoker};
use crate::proxy::{self, Invoker};
use crate::{info, ui};

pub fn configure(
    provider: Arc<dyn Provider>,
    api_config: ApiConfig,
    invoker: web::Data<Invoker>,
    queue: Option<web::Data<AsyncInvoker>>,
    scaler: Option<web::Data<AlertScaler>>,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let credentials = web::Data::new(api_config.credentials.clone());
        // Registered only with NATS configured, as OpenFaaS does (otherwise 404).
        if let Some(queue) = queue {
            cfg.service(
                web::scope("/async-function")
                    .app_data(queue)
                    .default_service(web::to(async_call::enqueue)),
            );
        }
        for (path, method) in [
            ("/system/alert", web::post()),
            ("/system/scaling-decisions", web::get()),
        ] {
            let mut resource = web::resource(path)
                .app_data(credentials.clone())
                .wrap(from_fn(require_basic_auth))
                .route(method.to(alerts::forward));
            if let Some(scaler) = scaler.clone() {
                resource = resource.app_data(scaler);
            }
            cfg.service(resource);
        }
        // A prefix scope, not `/function/{name}/{tail:.*}`: pattern routes cost a regex match
        // per call, and the proxy parses the raw path itself.
        cfg.service(
            web::scope("/function")
                .app_data(invoker)
                .default_service(web::to(proxy::invoke)),
        )
        .service(
            web::resource("/system/info")
                .app_data(web::Data::from(provider.clone()))
                .app_data(credentials.clone())
                .wrap(from_fn(require_basic_auth))
                .route(web::get().to(info::info)),
        )
        .service(
            web::scope("/ui")
                .app_data(credentials)
                .wrap(from_fn(require_basic_auth))
                .service(web::resource(["", "/", "/{tail:.*}"]).route(web::get().to(ui::page))),
        )
        .service(web::resource("/").route(web::get().to(redirect_to_ui)))
        .configure(api::configure(provider, api_config))
        .default_service(web::to(not_found));
    }
}

/// 307 as gateway@HEAD answers (the Swarm-era 301 is cached by browsers for good).
async fn redirect_to_ui() -> HttpResponse {
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

/// Go's router answer for an unknown path.
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body("404 page not found\n")
}
