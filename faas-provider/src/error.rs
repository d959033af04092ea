//! ProviderError: every way a provider operation fails, independent of HTTP.

use serde::{Deserialize, Serialize};

/// One variant per kind of failure; the string is the subject (a name) or the cause's text.
/// `api` maps each to a status code, `client` maps the answer back to the same variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    Invalid(String),
    #[error("function {0} not found")]
    FunctionNotFound(String),
    #[error("secret {0} not found")]
    SecretNotFound(String),
    #[error("namespace {0} not found")]
    NamespaceNotFound(String),
    #[error("function {0} already exists")]
    FunctionExists(String),
    #[error("secret {0} already exists")]
    SecretExists(String),
    #[error("invalid credentials")]
    Unauthorized,
    #[error("{0} is not supported by this provider")]
    NotSupported(String),
    #[error("the container engine failed: {0}")]
    Backend(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON error body our client asks for (`Accept: application/json`); other clients get
/// the message as plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: String,
    pub detail: String,
    pub message: String,
}

impl ProviderError {
    /// Every variant, one of each, for exhaustive tests.
    pub fn examples() -> Vec<ProviderError> {
        use ProviderError::*;
        vec![
            Invalid("image is required".into()),
            FunctionNotFound("figlet".into()),
            SecretNotFound("api-key".into()),
            NamespaceNotFound("other".into()),
            FunctionExists("figlet".into()),
            SecretExists("api-key".into()),
            Unauthorized,
            NotSupported("secret update".into()),
            Backend("no such image".into()),
            Timeout("waiting for replicas".into()),
            Unavailable("connection refused".into()),
            Internal("bug".into()),
        ]
    }

    pub fn kind(&self) -> &'static str {
        use ProviderError::*;
        match self {
            Invalid(_) => "invalid",
            FunctionNotFound(_) => "function_not_found",
            SecretNotFound(_) => "secret_not_found",
            NamespaceNotFound(_) => "namespace_not_found",
            FunctionExists(_) => "function_exists",
            SecretExists(_) => "secret_exists",
            Unauthorized => "unauthorized",
            NotSupported(_) => "not_supported",
            Backend(_) => "backend",
            Timeout(_) => "timeout",
            Unavailable(_) => "unavailable",
            Internal(_) => "internal",
        }
    }

    pub fn detail(&self) -> &str {
        use ProviderError::*;
        match self {
            Invalid(s) | FunctionNotFound(s) | SecretNotFound(s) | NamespaceNotFound(s)
            | FunctionExists(s) | SecretExists(s) | NotSupported(s) | Backend(s) | Timeout(s)
            | Unavailable(s) | Internal(s) => s,
            Unauthorized => "",
        }
    }

    pub fn from_parts(kind: &str, detail: String) -> Option<Self> {
        use ProviderError::*;
        Some(match kind {
            "invalid" => Invalid(detail),
            "function_not_found" => FunctionNotFound(detail),
            "secret_not_found" => SecretNotFound(detail),
            "namespace_not_found" => NamespaceNotFound(detail),
            "function_exists" => FunctionExists(detail),
            "secret_exists" => SecretExists(detail),
            "unauthorized" => Unauthorized,
            "not_supported" => NotSupported(detail),
            "backend" => Backend(detail),
            "timeout" => Timeout(detail),
            "unavailable" => Unavailable(detail),
            "internal" => Internal(detail),
            _ => return None,
        })
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            kind: self.kind().to_owned(),
            detail: self.detail().to_owned(),
            message: self.to_string(),
        }
    }
}

impl From<crate::name::NameError> for ProviderError {
    fn from(e: crate::name::NameError) -> Self {
        ProviderError::Invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for e in ProviderError::examples() {
            let body = e.body();
            assert_eq!(ProviderError::from_parts(&body.kind, body.detail), Some(e));
        }
    }
}
