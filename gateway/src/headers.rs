//! Header rules of the invocation proxy (CONTRACT.md §2.3–2.5): what is copied, removed and added.

use std::net::SocketAddr;

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

pub const X_CALL_ID: HeaderName = HeaderName::from_static("x-call-id");
pub const X_START_TIME: HeaderName = HeaderName::from_static("x-start-time");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// On responses to calls that waited for a function to scale from zero: the seconds waited.
pub const X_COLD_START_SECONDS: HeaderName = HeaderName::from_static("x-cold-start-seconds");

/// Hop-by-hop headers (RFC 7230 §6.1, and Go's `httputil` list), never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// Header names a `Connection` header lists are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::try_from(token.trim()).ok())
        .collect()
}

/// Whether a header of the caller's request is copied upstream. `Host` becomes the replica's
/// address, body framing is the proxy's own, and `Expect` was already answered by our server.
fn forwarded_upstream(name: &HeaderName, listed: &[HeaderName]) -> bool {
    !(is_hop_by_hop(name)
        || name == header::HOST
        || name == header::CONTENT_LENGTH
        || name == header::EXPECT
        || listed.contains(name))
}

/// The call's identity: the caller's `X-Call-Id` or a new one, and its arrival time.
#[derive(Clone, Debug)]
pub struct CallIds {
    pub call_id: HeaderValue,
    /// Unix time in nanoseconds, decimal.
    pub start_time: HeaderValue,
}

impl CallIds {
    pub fn new(incoming: &HeaderMap, start_unix_nanos: u128) -> Self {
        let call_id = incoming.get(X_CALL_ID).cloned().unwrap_or_else(|| {
            // From the thread's RNG: `new_v4` would make a getrandom syscall per call.
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            HeaderValue::from_str(
                id.hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            )
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        });
        let start_time = HeaderValue::from_str(&start_unix_nanos.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0"));
        Self {
            call_id,
            start_time,
        }
    }
}

/// The headers sent to the replica: the caller's, minus hop-by-hop, plus `X-Forwarded-*` when
/// absent and the call ids. `Authorization` passes untouched.
pub fn upstream_request(
    incoming: &HeaderMap,
    host: Option<&HeaderValue>,
    peer: Option<SocketAddr>,
    ids: &CallIds,
) -> HeaderMap {
    let listed = connection_listed(incoming);
    let mut out = HeaderMap::with_capacity(incoming.len() + 4);
    for (name, value) in incoming.iter() {
        if forwarded_upstream(name, &listed) {
            out.append(name.clone(), value.clone());
        }
    }
    if !out.contains_key(&X_FORWARDED_HOST) {
        if let Some(h) = host {
            out.insert(X_FORWARDED_HOST, h.clone());
        }
    }
    if !out.contains_key(&X_FORWARDED_FOR) {
        // Go's `RemoteAddr` form, `ip:port`, as OpenFaaS sends it.
        if let Some(v) = peer.and_then(|p| HeaderValue::from_str(&p.to_string()).ok()) {
            out.insert(X_FORWARDED_FOR, v);
        }
    }
    out.insert(X_CALL_ID, ids.call_id.clone());
    out.insert(X_START_TIME, ids.start_time.clone());
    out
}

/// Copies a replica's response headers onto ours, minus hop-by-hop and body framing (the
/// proxy sets its own). The call ids are added unless the function set them.
/// `Content-Length` stays on a 304, which has no body to frame.
pub fn response(
    upstream: &HeaderMap,
    keep_content_length: bool,
    ids: &CallIds,
    out: &mut HeaderMap,
) {
    let listed = connection_listed(upstream);
    for (name, value) in upstream.iter() {
        let framing = name == header::CONTENT_LENGTH && !keep_content_length;
        if !(is_hop_by_hop(name) || framing || listed.contains(name)) {
            out.append(name.clone(), value.clone());
        }
    }
    if !out.contains_key(&X_CALL_ID) {
        out.insert(X_CALL_ID, ids.call_id.clone());
    }
    if !out.contains_key(&X_START_TIME) {
        out.insert(X_START_TIME, ids.start_time.clone());
    }
}

/// `Content-Length` as a number, when present and valid.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        m
    }

    fn ids() -> CallIds {
        CallIds::new(&HeaderMap::new(), 42)
    }

    #[test]
    fn upstream_drops_hop_by_hop_and_listed_headers() {
        let incoming = map(&[
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic x"),
            ("proxy-connection", "keep-alive"),
            ("host", "gw.example:8080"),
            ("content-length", "5"),
            ("expect", "100-continue"),
            ("authorization", "Bearer token"),
            ("x-custom", "a"),
            ("x-custom", "b"),
        ]);
        let peer: SocketAddr = "10.0.0.1:5555".parse().unwrap();
        let out = upstream_request(&incoming, incoming.get(header::HOST), Some(peer), &ids());
        for gone in [
            "connection",
            "x-secret-hop",
            "keep-alive",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "proxy-connection",
            "host",
            "content-length",
            "expect",
        ] {
            assert!(!out.contains_key(gone), "{gone} should be removed");
        }
        assert_eq!(out.get("authorization").unwrap(), "Bearer token");
        assert_eq!(out.get_all("x-custom").count(), 2);
        assert_eq!(out.get(&X_FORWARDED_HOST).unwrap(), "gw.example:8080");
        assert_eq!(out.get(&X_FORWARDED_FOR).unwrap(), "10.0.0.1:5555");
        assert_eq!(out.get(&X_START_TIME).unwrap(), "42");
        let id = out.get(&X_CALL_ID).unwrap().to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }

    #[test]
    fn upstream_keeps_callers_forwarding_headers_and_call_id() {
        let incoming = map(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "original"),
            ("x-call-id", "my-id"),
        ]);
        let ids = CallIds::new(&incoming, 1);
        let out = upstream_request(
            &incoming,
            Some(&HeaderValue::from_static("gw")),
            Some("10.0.0.1:1".parse().unwrap()),
            &ids,
        );
        assert_eq!(out.get(&X_FORWARDED_FOR).unwrap(), "1.2.3.4");
        assert_eq!(out.get(&X_FORWARDED_HOST).unwrap(), "original");
        assert_eq!(out.get(&X_CALL_ID).unwrap(), "my-id");
    }

    #[test]
    fn response_copies_function_headers_and_adds_ids() {
        let upstream = map(&[
            ("content-type", "text/plain"),
            ("content-length", "5"),
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("x-start-time", "7"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ]);
        let mut out = HeaderMap::new();
        response(&upstream, false, &ids(), &mut out);
        assert_eq!(out.get("content-type").unwrap(), "text/plain");
        assert!(!out.contains_key("content-length"));
        assert!(!out.contains_key("connection"));
        assert!(!out.contains_key("transfer-encoding"));
        assert_eq!(out.get_all("set-cookie").count(), 2);
        // The function's own value wins, as in OpenFaaS.
        assert_eq!(out.get(&X_START_TIME).unwrap(), "7");
        assert!(out.contains_key(&X_CALL_ID));
        let mut out = HeaderMap::new();
        response(&upstream, true, &ids(), &mut out);
        assert_eq!(out.get("content-length").unwrap(), "5");
    }

    #[test]
    fn content_length_parses() {
        assert_eq!(content_length(&map(&[("content-length", "12")])), Some(12));
        assert_eq!(content_length(&map(&[("content-length", "x")])), None);
        assert_eq!(content_length(&HeaderMap::new()), None);
    }
}
