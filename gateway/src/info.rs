//! GET `/system/info`: the provider's info wrapped with the gateway's own (CONTRACT.md §1.6.5).

use actix_web::{web, HttpRequest, HttpResponse};
use faas_provider::api::ApiError;
use faas_provider::types::{GatewayInfo, VersionInfo};
use faas_provider::Provider;

/// Set by the image build (`GIT_SHA=$(git rev-parse HEAD) cargo build`); clients require a value.
const GIT_SHA: &str = match option_env!("GIT_SHA") {
    Some(sha) => sha,
    None => "dev",
};

/// Go's `GOARCH` spelling, which clients print.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        other => other,
    }
}

pub async fn info(
    req: HttpRequest,
    provider: web::Data<dyn Provider>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider.info().await.map_err(|e| ApiError::new(&req, e))?;
    Ok(HttpResponse::Ok().json(GatewayInfo {
        provider,
        version: VersionInfo {
            commit_message: String::new(),
            sha: GIT_SHA.to_owned(),
            release: env!("CARGO_PKG_VERSION").to_owned(),
        },
        arch: go_arch(std::env::consts::ARCH).to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_names() {
        for (rust, go) in [
            ("x86_64", "amd64"),
            ("aarch64", "arm64"),
            ("arm", "arm"),
            ("s390x", "s390x"),
        ] {
            assert_eq!(go_arch(rust), go);
        }
    }
}
