//! InvokeError: every way a `/function/*` call fails before the function answers, and its status.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use faas_provider::name::NameError;
use faas_provider::ProviderError;

/// Who failed decides the status: the caller (400/404), the provider (its own status), the
/// function's replicas (502 unreachable, 504 too slow).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("namespace {requested} not found: this gateway serves functions in {served}")]
    NamespaceNotFound { requested: String, served: String },
    #[error("function {0} not found")]
    FunctionNotFound(String),
    #[error("function {0} has no ready replica and scale_from_zero is off")]
    NoReplicas(String),
    #[error("function {function} had no ready replica within upstream_timeout ({timeout:?}) after scaling from zero")]
    ColdStartTimeout { function: String, timeout: Duration },
    #[error("scaling function {function} from zero failed")]
    ScaleFromZero {
        function: String,
        #[source]
        source: ProviderError,
    },
    #[error("looking up the replicas of function {function} failed")]
    Lookup {
        function: String,
        #[source]
        source: ProviderError,
    },
    #[error("no replica of function {function} could be reached: {cause}")]
    Unreachable { function: String, cause: String },
    #[error("function {function} did not answer within upstream_timeout ({timeout:?})")]
    Timeout { function: String, timeout: Duration },
    #[error("the request cannot be forwarded to function {function}")]
    BadRequest {
        function: String,
        #[source]
        source: awc::error::SendRequestError,
    },
}

impl InvokeError {
    pub fn status(&self) -> StatusCode {
        use InvokeError::*;
        match self {
            InvalidName(_) | BadRequest { .. } => StatusCode::BAD_REQUEST,
            NamespaceNotFound { .. } | FunctionNotFound(_) => StatusCode::NOT_FOUND,
            NoReplicas(_) => StatusCode::SERVICE_UNAVAILABLE,
            ColdStartTimeout { .. } | Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ScaleFromZero { source, .. } | Lookup { source, .. } => match source {
                ProviderError::FunctionNotFound(_) => StatusCode::NOT_FOUND,
                other => other.status(),
            },
            Unreachable { .. } => StatusCode::BAD_GATEWAY,
        }
    }
}

/// The error and its causes on one line, for the response body and the log.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl ResponseError for InvokeError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body(chain(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let cases = [
            (InvokeError::InvalidName(NameError::Empty), 400),
            (
                InvokeError::NamespaceNotFound {
                    requested: "x".into(),
                    served: "openfaas-fn".into(),
                },
                404,
            ),
            (InvokeError::FunctionNotFound("f".into()), 404),
            (InvokeError::NoReplicas("f".into()), 503),
            (
                InvokeError::ColdStartTimeout {
                    function: "f".into(),
                    timeout: Duration::from_secs(1),
                },
                504,
            ),
            (
                InvokeError::Lookup {
                    function: "f".into(),
                    source: ProviderError::Unavailable("down".into()),
                },
                503,
            ),
            (
                InvokeError::ScaleFromZero {
                    function: "f".into(),
                    source: ProviderError::FunctionNotFound("f".into()),
                },
                404,
            ),
            (
                InvokeError::Timeout {
                    function: "f".into(),
                    timeout: Duration::from_secs(1),
                },
                504,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(e.status().as_u16(), status, "{e}");
        }
    }

    #[test]
    fn body_carries_the_cause() {
        let e = InvokeError::Lookup {
            function: "f".into(),
            source: ProviderError::Unavailable("connection refused".into()),
        };
        assert_eq!(
            chain(&e),
            "looking up the replicas of function f failed: unavailable: connection refused"
        );
    }
}
