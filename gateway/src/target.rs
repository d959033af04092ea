//! Where a `/function/{name}[/path]` call goes (CONTRACT.md §2.1): the function, and the path and
//! query the replica is asked for, byte for byte.

use faas_provider::{FunctionName, FunctionRef};

use crate::error::InvokeError;

pub const PREFIX: &str = "/function/";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub function: FunctionName,
    /// `function_name` label value: `name.namespace`, the same whichever form the caller used.
    pub label: String,
    /// What follows the name (`/` when nothing does), plus `?query` when the query is not empty.
    pub path_and_query: String,
}

impl Target {
    /// `path` and `query` are the raw request target, still percent-encoded.
    pub fn parse(path: &str, query: Option<&str>, namespace: &str) -> Result<Self, InvokeError> {
        Self::parse_under(PREFIX, path, query, namespace)
    }

    /// As `parse`, for a route under another prefix (`/async-function/`).
    pub fn parse_under(
        prefix: &str,
        path: &str,
        query: Option<&str>,
        namespace: &str,
    ) -> Result<Self, InvokeError> {
        let rest = path.strip_prefix(prefix).unwrap_or_default();
        let (segment, tail) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let r = FunctionRef::parse(segment)?;
        if let Some(requested) = r.namespace.filter(|ns| ns != namespace) {
            return Err(InvokeError::NamespaceNotFound {
                requested,
                served: namespace.to_owned(),
            });
        }
        let mut path_and_query = if tail.is_empty() {
            "/".to_owned()
        } else {
            tail.to_owned()
        };
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        Ok(Self {
            label: format!("{}.{namespace}", r.name),
            function: r.name,
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "openfaas-fn";

    #[test]
    fn paths_and_queries() {
        let cases = [
            ("/function/echo", None, "echo", "/"),
            ("/function/echo/", None, "echo", "/"),
            ("/function/echo", Some(""), "echo", "/"),
            (
                "/function/echo/a/b",
                Some("x=1&y=%2F&z"),
                "echo",
                "/a/b?x=1&y=%2F&z",
            ),
            (
                "/function/echo.openfaas-fn/a%20b//c/",
                None,
                "echo",
                "/a%20b//c/",
            ),
            ("/function/echo.openfaas-fn", Some("q"), "echo", "/?q"),
        ];
        for (path, query, name, want) in cases {
            let t = Target::parse(path, query, NS).unwrap();
            assert_eq!(t.function.as_str(), name, "{path}");
            assert_eq!(t.path_and_query, want, "{path}");
            assert_eq!(t.label, "echo.openfaas-fn");
        }
    }

    #[test]
    fn bad_names_and_namespaces() {
        let err = Target::parse("/function/echo.other", None, NS).unwrap_err();
        assert!(
            matches!(err, InvokeError::NamespaceNotFound { .. }),
            "{err}"
        );
        assert_eq!(err.status().as_u16(), 404);
        for bad in [
            "/function/Echo",
            "/function/a_b",
            "/function/a.b.c",
            "/function/%65cho",
        ] {
            let err = Target::parse(bad, None, NS).unwrap_err();
            assert_eq!(err.status().as_u16(), 400, "{bad}: {err}");
            assert!(err.to_string().contains("function name"), "{err}");
        }
    }
}
