//! `/ui/`: the web UI's embedded files (`ui_assets`), behind basic auth (issue 9).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use crate::ui_assets;

/// GET `/ui/…`, with the CORS headers the OpenFaaS UI is served with (§1.3).
pub async fn page(req: HttpRequest) -> HttpResponse {
    // The page loads its files by relative URLs, which need the trailing slash.
    if !req.path().ends_with('/') && req.match_info().get("tail").is_none() {
        return HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, "/ui/"))
            .finish();
    }
    let Some(asset) = ui_assets::find(req.match_info().get("tail").unwrap_or_default()) else {
        return HttpResponse::NotFound()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("404 page not found\n");
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        // Revalidated on every load: the files change with the gateway binary.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            "raw.githubusercontent.com",
        ))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .body(asset.body)
}
