//! `<service> healthcheck`: a blocking HTTP/1.1 probe of the service's own `/healthz` on
//! loopback, for the `HEALTHCHECK` of `FROM scratch` images, which have no curl or wget.
//!
//! Each service's `main` calls [`exit_if_requested`] right after loading its configuration,
//! so the probe uses the port the service really listens on.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// The first argument that asks for a probe instead of a server.
pub const SUBCOMMAND: &str = "healthcheck";

/// Bound on connecting, sending and reading; below Docker's default healthcheck timeout (30 s)
/// so the probe reports its own error rather than being killed.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot reach {addr}{path}")]
    Io {
        addr: SocketAddr,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{addr}{path} answered something that is not HTTP: {head:?}")]
    NotHttp {
        addr: SocketAddr,
        path: String,
        head: String,
    },
    #[error("{addr}{path} answered {status}")]
    Status {
        addr: SocketAddr,
        path: String,
        status: u16,
    },
}

/// When the process was started as `<binary> healthcheck`, probes `127.0.0.1:<port><path>` and
/// exits: 0 on a 2xx answer, 1 otherwise (the reason on stderr). Returns when not asked.
pub fn exit_if_requested(port: u16, path: &str) {
    if std::env::args().nth(1).as_deref() == Some(SUBCOMMAND) {
        std::process::exit(run(port, path));
    }
}

/// Probes `127.0.0.1:<port><path>`; the exit code: 0 on 2xx, 1 otherwise (reason on stderr).
pub fn run(port: u16, path: &str) -> i32 {
    match probe(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), path, TIMEOUT) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("healthcheck failed: {}", error_chain(&e));
            1
        }
    }
}

/// `GET <path>` on `addr`; the status when it is 2xx.
pub fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> Result<u16, ProbeError> {
    let io_error = |source| ProbeError::Io {
        addr,
        path: path.to_owned(),
        source,
    };
    let head = request(addr, path, timeout).map_err(io_error)?;
    let status = parse_status(&head).ok_or_else(|| ProbeError::NotHttp {
        addr,
        path: path.to_owned(),
        head: String::from_utf8_lossy(&head).into_owned(),
    })?;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(ProbeError::Status {
            addr,
            path: path.to_owned(),
            status,
        })
    }
}

/// Sends the request and reads up to the end of the status line (at most 256 bytes).
fn request(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ironfaas-healthcheck\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = Vec::with_capacity(64);
    let mut chunk = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 256 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}

/// The status code of `HTTP/1.x NNN ...`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then_some(())?;
    code.parse().ok()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A one-shot server answering `response` to the first connection; returns its address and
    /// the request it received.
    fn serve_once(response: &'static [u8]) -> (SocketAddr, thread::JoinHandle<String>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(response).unwrap();
            String::from_utf8(request).unwrap()
        });
        (addr, handle)
    }

    #[test]
    fn a_2xx_answer_is_healthy_and_the_request_is_plain_http_1_1() {
        let (addr, server) = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(probe(addr, "/healthz", TIMEOUT).unwrap(), 200);
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /healthz HTTP/1.1\r\n"),
            "{request:?}"
        );
        assert!(request.contains("\r\nConnection: close\r\n"), "{request:?}");
        assert!(
            request.contains(&format!("\r\nHost: {addr}\r\n")),
            "{request:?}"
        );
    }

    #[test]
    fn answers_that_are_not_2xx_name_the_status_or_what_came() {
        let cases: &[(&str, &'static [u8], &str)] = &[
            (
                "503",
                b"HTTP/1.1 503 Service Unavailable\r\n\r\n",
                "answered 503",
            ),
            ("301", b"HTTP/1.0 301 Moved\r\n\r\n", "answered 301"),
            ("garbage", b"SSH-2.0-OpenSSH\r\n", "not HTTP"),
            ("empty", b"", "not HTTP"),
        ];
        for (name, response, expected) in cases {
            let (addr, server) = serve_once(response);
            let err = probe(addr, "/healthz", TIMEOUT).unwrap_err().to_string();
            server.join().unwrap();
            assert!(err.contains(expected), "{name}: {err:?}");
            assert!(err.contains("/healthz"), "{name}: {err:?}");
        }
    }

    #[test]
    fn a_closed_port_is_an_io_error_naming_the_address() {
        let port = {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let err = probe(addr, "/healthz", TIMEOUT).unwrap_err();
        assert!(matches!(err, ProbeError::Io { .. }), "{err:?}");
        assert!(
            error_chain(&err).contains(&format!("{addr}/healthz")),
            "{err}"
        );
        assert_eq!(run(port, "/healthz"), 1);
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepted by the kernel's backlog, never answered.
        let err = probe(addr, "/healthz", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, ProbeError::Io { .. }), "{err:?}");
        drop(listener);
    }

    #[test]
    fn status_lines() {
        let cases: &[(&[u8], Option<u16>)] = &[
            (b"HTTP/1.1 200 OK\r\n", Some(200)),
            (b"HTTP/1.0 204\r\n", Some(204)),
            (b"HTTP/1.1 200", Some(200)),
            (b"HTTP/2 200 OK\r\n", None),
            (b"HTTP/1.1 2000 OK\r\n", None),
            (b"HTTP/1.1 abc OK\r\n", None),
            (b"", None),
        ];
        for (head, want) in cases {
            assert_eq!(
                parse_status(head),
                *want,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }
}
