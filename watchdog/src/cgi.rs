//! The CGI-like environment a forked function sees: the watchdog's environment plus `Http_*`
//! variables describing the request, exactly as the Go watchdogs build them.
//!
//! Go hands a handler its headers canonicalised (`x-call-id` → `X-Call-Id`) and without `Host`
//! and `Transfer-Encoding`, which it moves to `r.Host` and `r.TransferEncoding`; the variables
//! follow from that view. `Http_Path` is the decoded path (`r.URL.Path`), `Http_Query` the raw
//! query. The classic watchdog adds `Http_Host` and `Http_ContentLength`/`Http_Content_Length`;
//! of-watchdog does not.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use actix_web::http::header::{HeaderMap, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use actix_web::http::Method;

/// Which watchdog's variables to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Classic,
    OfWatchdog,
}

/// The parts of a request the environment is built from.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a Method,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
}

/// The variables to add to the watchdog's own environment for one call.
pub fn environment(req: &RequestParts<'_>, flavor: Flavor) -> Vec<(OsString, OsString)> {
    let mut env = Vec::with_capacity(req.headers.len() + 8);
    let mut set = |name: String, value: Vec<u8>| {
        env.push((OsString::from(name), OsString::from_vec(value)));
    };
    for (name, value) in go_headers(req.headers) {
        set(format!("Http_{}", name.replace('-', "_")), value.to_vec());
    }
    set("Http_Method".into(), req.method.as_str().into());
    if flavor == Flavor::Classic {
        let length = content_length(req.headers).to_string();
        set("Http_ContentLength".into(), length.clone().into_bytes());
        set("Http_Content_Length".into(), length.into_bytes());
    }
    if let Some(encoding) = transfer_encoding(req.headers) {
        set("Http_Transfer_Encoding".into(), encoding.to_vec());
    }
    if !req.query.is_empty() {
        set("Http_Query".into(), req.query.into());
    }
    if !req.path.is_empty() {
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(req.path).collect();
        set("Http_Path".into(), decoded);
    }
    if flavor == Flavor::Classic {
        if let Some(host) = req.headers.get(HOST).filter(|h| !h.is_empty()) {
            set("Http_Host".into(), host.as_bytes().to_vec());
        }
    }
    env
}

/// The headers as a Go handler sees them: canonical names, first value of each, no `Host` or
/// `Transfer-Encoding`.
pub fn go_headers(headers: &HeaderMap) -> impl Iterator<Item = (String, &[u8])> + '_ {
    headers
        .keys()
        .filter(|name| **name != HOST && **name != TRANSFER_ENCODING)
        .filter_map(move |name| {
            let first = headers.get(name)?;
            Some((canonical_name(name.as_str()), first.as_bytes()))
        })
}

/// Every value of every header, keyed by canonical name (the `marshal_request` header map).
pub fn go_header_map(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for name in headers.keys() {
        if *name == HOST || *name == TRANSFER_ENCODING {
            continue;
        }
        let values = headers
            .get_all(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(canonical_name(name.as_str()), values);
    }
    map
}

/// Go's `CanonicalMIMEHeaderKey` for a valid header name: upper case at the start and after
/// each `-`, lower case elsewhere.
pub fn canonical_name(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// Go's `r.ContentLength`: the declared length, `-1` for a chunked body, `0` without a body.
pub fn content_length(headers: &HeaderMap) -> i64 {
    if transfer_encoding(headers).is_some() {
        return -1;
    }
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The first transfer coding (`chunked`), if the request declared any.
fn transfer_encoding(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(TRANSFER_ENCODING)?.as_bytes();
    let first = value.split(|&b| b == b',').next()?;
    let first = first.trim_ascii();
    (!first.is_empty()).then_some(first)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn env_of(
        method: Method,
        path: &str,
        query: &str,
        pairs: &[(&str, &str)],
        flavor: Flavor,
    ) -> BTreeMap<String, String> {
        let headers = headers(pairs);
        let req = RequestParts {
            method: &method,
            path,
            query,
            headers: &headers,
        };
        environment(&req, flavor)
            .into_iter()
            .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
            .collect()
    }

    #[test]
    fn environment_table() {
        struct Case {
            name: &'static str,
            method: Method,
            path: &'static str,
            query: &'static str,
            headers: &'static [(&'static str, &'static str)],
            flavor: Flavor,
            want: &'static [(&'static str, &'static str)],
        }
        let cases = [
            Case {
                name: "classic POST with a body",
                method: Method::POST,
                path: "/",
                query: "",
                headers: &[
                    ("host", "fn:8080"),
                    ("content-type", "text/plain"),
                    ("content-length", "5"),
                    ("x-call-id", "abc"),
                ],
                flavor: Flavor::Classic,
                want: &[
                    ("Http_Content_Type", "text/plain"),
                    ("Http_Content_Length", "5"),
                    ("Http_ContentLength", "5"),
                    ("Http_X_Call_Id", "abc"),
                    ("Http_Method", "POST"),
                    ("Http_Path", "/"),
                    ("Http_Host", "fn:8080"),
                ],
            },
            Case {
                name: "classic GET with path and query, no body",
                method: Method::GET,
                path: "/a/b%20c",
                query: "q=1&r=%20",
                headers: &[("user-agent", "curl/8")],
                flavor: Flavor::Classic,
                want: &[
                    ("Http_User_Agent", "curl/8"),
                    ("Http_Method", "GET"),
                    ("Http_ContentLength", "0"),
                    ("Http_Content_Length", "0"),
                    ("Http_Query", "q=1&r=%20"),
                    ("Http_Path", "/a/b c"),
                ],
            },
            Case {
                name: "classic chunked",
                method: Method::PUT,
                path: "/",
                query: "",
                headers: &[("transfer-encoding", "chunked")],
                flavor: Flavor::Classic,
                want: &[
                    ("Http_Method", "PUT"),
                    ("Http_ContentLength", "-1"),
                    ("Http_Content_Length", "-1"),
                    ("Http_Transfer_Encoding", "chunked"),
                    ("Http_Path", "/"),
                ],
            },
            Case {
                name: "of-watchdog: no Host, no ContentLength, first value only",
                method: Method::DELETE,
                path: "/x",
                query: "a=b",
                headers: &[
                    ("host", "fn:8080"),
                    ("accept", "text/html"),
                    ("accept", "application/json"),
                    ("x-forwarded-for", "10.0.0.1"),
                ],
                flavor: Flavor::OfWatchdog,
                want: &[
                    ("Http_Accept", "text/html"),
                    ("Http_X_Forwarded_For", "10.0.0.1"),
                    ("Http_Method", "DELETE"),
                    ("Http_Query", "a=b"),
                    ("Http_Path", "/x"),
                ],
            },
        ];
        for case in cases {
            let got = env_of(
                case.method,
                case.path,
                case.query,
                case.headers,
                case.flavor,
            );
            let want: BTreeMap<String, String> = case
                .want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{}", case.name);
        }
    }

    #[test]
    fn canonical_names() {
        let cases = [
            ("x-call-id", "X-Call-Id"),
            ("content-type", "Content-Type"),
            ("accept", "Accept"),
            ("x-b3-traceid", "X-B3-Traceid"),
            ("a--b", "A--B"),
        ];
        for (name, want) in cases {
            assert_eq!(canonical_name(name), want);
        }
    }

    #[test]
    fn header_map_keeps_every_value() {
        let map = go_header_map(&headers(&[
            ("host", "h"),
            ("accept", "a"),
            ("accept", "b"),
            ("content-length", "3"),
        ]));
        let want: BTreeMap<String, Vec<String>> = [
            ("Accept".to_owned(), vec!["a".to_owned(), "b".to_owned()]),
            ("Content-Length".to_owned(), vec!["3".to_owned()]),
        ]
        .into();
        assert_eq!(map, want);
    }
}
