//! The watchdog's configuration: the OpenFaaS environment variables, their defaults, and the
//! checks that stop start-up with a message naming the variable.
//!
//! Variables are read case-sensitively, lower case only, as the Go watchdogs do (`os.Getenv`):
//! a function's own `PORT` or `MODE` must not reconfigure the watchdog around it. An empty
//! value counts as unset. Unlike the Go watchdogs, a value that does not parse (`port=abc`,
//! `exec_timeout=5x`, `write_debug=maybe`) is an error rather than a silent default.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use faas_provider::config::{ConfigError, Env};
use faas_provider::duration;
use serde::Deserialize;

use crate::process::Fprocess;

/// Every variable the watchdog reads; all other variables are left to the function.
const VARIABLES: &[&str] = &[
    "mode",
    "fprocess",
    "function_process",
    "upstream_url",
    "http_upstream_url",
    "port",
    "metrics_port",
    "read_timeout",
    "write_timeout",
    "exec_timeout",
    "healthcheck_interval",
    "write_debug",
    "cgi_headers",
    "marshal_request",
    "debug_headers",
    "suppress_lock",
    "lock_path",
    "content_type",
    "combine_output",
    "max_inflight",
    "static_path",
    "http_buffer_req_body",
    "buffer_http",
    "workers",
    "prefix_logs",
    "log_buffer_size",
    "ready_path",
    "log_callid",
];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
const DEFAULT_STATIC_PATH: &str = "/home/app/public";
/// `bufio.MaxScanTokenSize`, the of-watchdog default for `log_buffer_size`.
const DEFAULT_LOG_LINE: usize = 64 * 1024;

/// How a call is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The classic watchdog: fork per call, buffered, CGI environment (no `mode`, `fprocess` set).
    Classic,
    /// of-watchdog `streaming`: fork per call, body streamed both ways.
    Streaming,
    /// of-watchdog `serializing`: fork per call, buffered.
    Serializing,
    /// of-watchdog `http`: reverse proxy to long-running upstream workers.
    Http,
    /// of-watchdog `static`: files under `static_path`.
    Static,
}

impl Mode {
    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value {
            "streaming" => Ok(Self::Streaming),
            "serializing" => Ok(Self::Serializing),
            "http" => Ok(Self::Http),
            "static" => Ok(Self::Static),
            "afterburn" | "inproc" => Err(ConfigError::new(format!(
                "mode: {value:?} is not supported; use streaming, serializing, http or static"
            ))),
            other => Err(ConfigError::new(format!(
                "mode: unknown mode {other:?}; use streaming, serializing, http or static \
                 (or leave mode unset for the classic watchdog)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Streaming => "streaming",
            Self::Serializing => "serializing",
            Self::Http => "http",
            Self::Static => "static",
        }
    }

    /// The fork-per-call modes.
    pub fn forks(self) -> bool {
        matches!(self, Self::Classic | Self::Streaming | Self::Serializing)
    }
}

/// Where http mode's upstream listens: `upstream_url` split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    /// The first worker's port; worker `i` listens on `port + i`.
    pub port: u16,
    /// A path prefix from `upstream_url` (no trailing `/`), prepended to every request path.
    pub path: String,
}

impl Upstream {
    fn parse(variable: &str, value: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError::new(format!("{variable}: {value:?} {why}"));
        let url = url::Url::parse(value).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        if url.scheme() != "http" {
            return Err(bad("must be an http:// URL"));
        }
        let host = url.host_str().ok_or_else(|| bad("has no host"))?.to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| bad("has no port"))?;
        Ok(Self {
            host,
            port,
            path: url.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// How child output is cut into log lines (`log_buffer_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLines {
    /// Lines of at most this many bytes; longer lines are split.
    Max(usize),
    /// `-1`: whatever each read returns, unsplit.
    Unbuffered,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Required in every mode but `static`.
    pub fprocess: Option<Fprocess>,
    pub port: u16,
    /// Prometheus metrics port (8081 in OpenFaaS, fixed there; 0 picks a free port).
    pub metrics_port: u16,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Zero disables the per-call limit (`write_timeout` still bounds a call).
    pub exec_timeout: Duration,
    pub healthcheck_interval: Duration,
    pub write_debug: bool,
    pub cgi_headers: bool,
    pub marshal_request: bool,
    pub debug_headers: bool,
    pub suppress_lock: bool,
    /// The lock file (`$TMPDIR/.lock`, normally `/tmp/.lock`); tests use their own.
    pub lock_path: PathBuf,
    pub content_type: Option<String>,
    pub combine_output: bool,
    /// Zero means unlimited.
    pub max_inflight: usize,
    pub static_path: PathBuf,
    pub upstream: Option<Upstream>,
    pub buffer_http: bool,
    /// http mode: how many copies of the upstream to run.
    pub workers: usize,
    pub prefix_logs: bool,
    pub log_lines: LogLines,
    pub ready_path: Option<String>,
    pub log_callid: bool,
}

/// The variables as read, before defaults and checks.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    mode: Option<String>,
    fprocess: Option<String>,
    function_process: Option<String>,
    upstream_url: Option<String>,
    http_upstream_url: Option<String>,
    port: Option<u16>,
    metrics_port: Option<u16>,
    #[serde(deserialize_with = "duration::deserialize_opt")]
    read_timeout: Option<Duration>,
    #[serde(deserialize_with = "duration::deserialize_opt")]
    write_timeout: Option<Duration>,
    #[serde(deserialize_with = "duration::deserialize_opt")]
    exec_timeout: Option<Duration>,
    #[serde(deserialize_with = "duration::deserialize_opt")]
    healthcheck_interval: Option<Duration>,
    write_debug: Option<bool>,
    cgi_headers: Option<bool>,
    marshal_request: Option<bool>,
    debug_headers: Option<bool>,
    suppress_lock: Option<bool>,
    lock_path: Option<PathBuf>,
    content_type: Option<String>,
    combine_output: Option<bool>,
    max_inflight: Option<usize>,
    static_path: Option<PathBuf>,
    http_buffer_req_body: Option<bool>,
    buffer_http: Option<bool>,
    workers: Option<usize>,
    prefix_logs: Option<bool>,
    log_buffer_size: Option<i64>,
    ready_path: Option<String>,
    log_callid: Option<bool>,
}

impl Config {
    /// Reads the watchdog's variables from `env` (the process environment when `None`).
    pub fn from_env(env: Env) -> Result<Self, ConfigError> {
        let env = env.unwrap_or_else(|| std::env::vars_os().filter_map(utf8_pair).collect());
        let ours: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, v)| !v.is_empty() && VARIABLES.contains(&k.as_str()))
            .collect();
        let raw: Raw = faas_provider::config::load(Some(ours))?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Self, ConfigError> {
        // of-watchdog: the later spelling wins.
        let fprocess_var = if raw.function_process.is_some() {
            "function_process"
        } else {
            "fprocess"
        };
        let fprocess_text = raw.function_process.or(raw.fprocess);
        let mode =
            match raw.mode.as_deref() {
                Some(m) => Mode::parse(m)?,
                None if fprocess_text.is_some() => Mode::Classic,
                None => return Err(ConfigError::new(
                    "fprocess: provide the function's command in fprocess (or function_process), \
                     or set mode=static",
                )),
            };
        let fprocess = match fprocess_text {
            Some(text) => Some(
                Fprocess::parse(&text)
                    .ok_or_else(|| ConfigError::new(format!("{fprocess_var}: empty command")))?,
            ),
            None if mode == Mode::Static => None,
            None => {
                return Err(ConfigError::new(format!(
                    "fprocess: mode={} needs the function's command in fprocess (or \
                     function_process)",
                    mode.name()
                )))
            }
        };

        let write_timeout = raw.write_timeout.unwrap_or(DEFAULT_TIMEOUT);
        if write_timeout.is_zero() {
            return Err(ConfigError::new("write_timeout: must be over 0s"));
        }
        let default_exec = if mode == Mode::Classic {
            Duration::ZERO
        } else {
            DEFAULT_TIMEOUT
        };

        let upstream_var = if raw.http_upstream_url.is_some() {
            "http_upstream_url"
        } else {
            "upstream_url"
        };
        let upstream = match (raw.http_upstream_url.or(raw.upstream_url), mode) {
            (Some(url), Mode::Http) => Some(Upstream::parse(upstream_var, &url)?),
            (None, Mode::Http) => {
                return Err(ConfigError::new(
                    "upstream_url: mode=http needs the upstream's address in upstream_url (or \
                     http_upstream_url), e.g. http://127.0.0.1:5000",
                ))
            }
            _ => None,
        };

        let workers = raw.workers.unwrap_or(1);
        if workers == 0 {
            return Err(ConfigError::new("workers: must be at least 1"));
        }
        if workers > 1 && mode != Mode::Http {
            return Err(ConfigError::new(
                "workers: a pool of workers needs mode=http",
            ));
        }
        if let Some(up) = &upstream {
            if usize::from(up.port) + workers - 1 > usize::from(u16::MAX) {
                return Err(ConfigError::new(format!(
                    "workers: {workers} workers from port {} run past port 65535",
                    up.port
                )));
            }
        }

        let log_lines = match raw.log_buffer_size {
            None => LogLines::Max(DEFAULT_LOG_LINE),
            Some(-1) => LogLines::Unbuffered,
            Some(n) if n > 0 => LogLines::Max(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(n) => {
                return Err(ConfigError::new(format!(
                    "log_buffer_size: {n} must be a positive size in bytes, or -1 for unbuffered"
                )))
            }
        };

        let content_type = raw
            .content_type
            .or_else(|| (mode != Mode::Classic).then(|| DEFAULT_CONTENT_TYPE.to_owned()));

        Ok(Self {
            mode,
            fprocess,
            port: raw.port.unwrap_or(8080),
            metrics_port: raw.metrics_port.unwrap_or(8081),
            read_timeout: raw.read_timeout.unwrap_or(DEFAULT_TIMEOUT),
            write_timeout,
            exec_timeout: raw.exec_timeout.unwrap_or(default_exec),
            healthcheck_interval: raw.healthcheck_interval.unwrap_or(write_timeout),
            write_debug: raw.write_debug.unwrap_or(false),
            cgi_headers: raw.cgi_headers.unwrap_or(true),
            marshal_request: raw.marshal_request.unwrap_or(false),
            debug_headers: raw.debug_headers.unwrap_or(false),
            suppress_lock: raw.suppress_lock.unwrap_or(false),
            lock_path: raw
                .lock_path
                .unwrap_or_else(|| std::env::temp_dir().join(".lock")),
            content_type,
            combine_output: raw.combine_output.unwrap_or(true),
            max_inflight: raw.max_inflight.unwrap_or(0),
            static_path: raw
                .static_path
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATIC_PATH)),
            upstream,
            buffer_http: raw.http_buffer_req_body.unwrap_or(false)
                || raw.buffer_http.unwrap_or(false),
            workers,
            prefix_logs: raw.prefix_logs.unwrap_or(true),
            log_lines,
            ready_path: raw.ready_path.map(|p| {
                if p.starts_with('/') {
                    p
                } else {
                    format!("/{p}")
                }
            }),
            log_callid: raw.log_callid.unwrap_or(false),
        })
    }

    /// The longest a call may run: `exec_timeout` when set, never past `write_timeout`.
    pub fn call_timeout(&self) -> Duration {
        if self.exec_timeout.is_zero() {
            self.write_timeout
        } else {
            self.exec_timeout.min(self.write_timeout)
        }
    }
}

fn utf8_pair((k, v): (std::ffi::OsString, std::ffi::OsString)) -> Option<(String, String)> {
    Some((k.into_string().ok()?, v.into_string().ok()?))
}

#[cfg(test)]
mod tests {
    use faas_provider::config::env_from;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_env(env_from(pairs.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn modes_and_defaults() {
        struct Case {
            name: &'static str,
            env: &'static [(&'static str, &'static str)],
            mode: Mode,
            exec_timeout: Duration,
            content_type: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "fprocess without mode is the classic watchdog",
                env: &[("fprocess", "cat")],
                mode: Mode::Classic,
                exec_timeout: Duration::ZERO,
                content_type: None,
            },
            Case {
                name: "streaming",
                env: &[("fprocess", "cat"), ("mode", "streaming")],
                mode: Mode::Streaming,
                exec_timeout: DEFAULT_TIMEOUT,
                content_type: Some(DEFAULT_CONTENT_TYPE),
            },
            Case {
                name: "serializing with a content type",
                env: &[
                    ("fprocess", "cat"),
                    ("mode", "serializing"),
                    ("content_type", "text/plain"),
                ],
                mode: Mode::Serializing,
                exec_timeout: DEFAULT_TIMEOUT,
                content_type: Some("text/plain"),
            },
            Case {
                name: "http",
                env: &[
                    ("fprocess", "python3 app.py"),
                    ("mode", "http"),
                    ("upstream_url", "http://127.0.0.1:5000"),
                ],
                mode: Mode::Http,
                exec_timeout: DEFAULT_TIMEOUT,
                content_type: Some(DEFAULT_CONTENT_TYPE),
            },
            Case {
                name: "static needs no fprocess",
                env: &[("mode", "static")],
                mode: Mode::Static,
                exec_timeout: DEFAULT_TIMEOUT,
                content_type: Some(DEFAULT_CONTENT_TYPE),
            },
            Case {
                name: "empty values count as unset",
                env: &[("fprocess", "cat"), ("mode", ""), ("exec_timeout", "")],
                mode: Mode::Classic,
                exec_timeout: Duration::ZERO,
                content_type: None,
            },
        ];
        for case in cases {
            let c = load(case.env).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(c.mode, case.mode, "{}", case.name);
            assert_eq!(c.exec_timeout, case.exec_timeout, "{}", case.name);
            assert_eq!(
                c.content_type.as_deref(),
                case.content_type,
                "{}",
                case.name
            );
            assert_eq!(c.port, 8080, "{}", case.name);
            assert_eq!(c.metrics_port, 8081, "{}", case.name);
            assert_eq!(c.read_timeout, DEFAULT_TIMEOUT, "{}", case.name);
            assert_eq!(c.healthcheck_interval, c.write_timeout, "{}", case.name);
            assert!(
                c.cgi_headers && c.combine_output && c.prefix_logs,
                "{}",
                case.name
            );
            assert_eq!(c.workers, 1, "{}", case.name);
            assert_eq!(
                c.log_lines,
                LogLines::Max(DEFAULT_LOG_LINE),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn values_and_aliases() {
        let c = load(&[
            ("fprocess", "ignored"),
            ("function_process", "node index.js"),
            ("mode", "http"),
            ("upstream_url", "http://ignored:1"),
            ("http_upstream_url", "http://localhost:3000/api/"),
            ("port", "9000"),
            ("read_timeout", "5m5s"),
            ("write_timeout", "10"),
            ("exec_timeout", "1500ms"),
            ("healthcheck_interval", "2s"),
            ("max_inflight", "7"),
            ("buffer_http", "true"),
            ("workers", "3"),
            ("prefix_logs", "false"),
            ("log_buffer_size", "-1"),
            ("ready_path", "ready"),
            ("suppress_lock", "true"),
            ("lock_path", "/tmp/x/.lock"),
        ])
        .unwrap();
        let fprocess = c.fprocess.clone().unwrap();
        assert_eq!(fprocess.program(), "node");
        assert_eq!(fprocess.args(), ["index.js"]);
        assert_eq!(
            c.upstream,
            Some(Upstream {
                host: "localhost".into(),
                port: 3000,
                path: "/api".into()
            })
        );
        assert_eq!(c.port, 9000);
        assert_eq!(c.read_timeout, Duration::from_secs(305));
        assert_eq!(c.write_timeout, Duration::from_secs(10));
        assert_eq!(c.exec_timeout, Duration::from_millis(1500));
        assert_eq!(c.healthcheck_interval, Duration::from_secs(2));
        assert_eq!(c.call_timeout(), Duration::from_millis(1500));
        assert_eq!(c.max_inflight, 7);
        assert!(c.buffer_http && c.suppress_lock && !c.prefix_logs);
        assert_eq!(c.workers, 3);
        assert_eq!(c.log_lines, LogLines::Unbuffered);
        assert_eq!(c.ready_path.as_deref(), Some("/ready"));
        assert_eq!(c.lock_path, PathBuf::from("/tmp/x/.lock"));
    }

    #[test]
    fn only_lower_case_names_are_ours() {
        // A function's own PORT and MODE must not move the watchdog.
        let c = load(&[("fprocess", "cat"), ("PORT", "5000"), ("MODE", "http")]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.mode, Mode::Classic);
    }

    #[test]
    fn call_timeout_is_bounded_by_write_timeout() {
        let cases = [
            ("0", "30", 30_000),
            ("5", "30", 5_000),
            ("60", "30", 30_000),
        ];
        for (exec, write, want_ms) in cases {
            let c = load(&[
                ("fprocess", "cat"),
                ("exec_timeout", exec),
                ("write_timeout", write),
            ])
            .unwrap();
            assert_eq!(
                c.call_timeout(),
                Duration::from_millis(want_ms),
                "{exec} {write}"
            );
        }
    }

    #[test]
    fn bad_config_names_the_variable() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            ("no fprocess, no mode", &[], "fprocess"),
            (
                "unknown mode",
                &[("fprocess", "cat"), ("mode", "turbo")],
                "mode",
            ),
            (
                "afterburn",
                &[("fprocess", "cat"), ("mode", "afterburn")],
                "mode",
            ),
            (
                "streaming without fprocess",
                &[("mode", "streaming")],
                "fprocess",
            ),
            ("blank fprocess", &[("fprocess", "   ")], "fprocess"),
            ("bad port", &[("fprocess", "cat"), ("port", "abc")], "port"),
            (
                "port too big",
                &[("fprocess", "cat"), ("port", "70000")],
                "port",
            ),
            (
                "bad duration",
                &[("fprocess", "cat"), ("exec_timeout", "5x")],
                "exec_timeout",
            ),
            (
                "bad read",
                &[("fprocess", "cat"), ("read_timeout", "-1")],
                "read_timeout",
            ),
            (
                "zero write",
                &[("fprocess", "cat"), ("write_timeout", "0")],
                "write_timeout",
            ),
            (
                "bad bool",
                &[("fprocess", "cat"), ("write_debug", "maybe")],
                "write_debug",
            ),
            (
                "negative max_inflight",
                &[("fprocess", "cat"), ("max_inflight", "-1")],
                "max_inflight",
            ),
            (
                "http without upstream",
                &[("fprocess", "cat"), ("mode", "http")],
                "upstream_url",
            ),
            (
                "bad upstream",
                &[
                    ("fprocess", "cat"),
                    ("mode", "http"),
                    ("upstream_url", "nope"),
                ],
                "upstream_url",
            ),
            (
                "https upstream",
                &[
                    ("fprocess", "cat"),
                    ("mode", "http"),
                    ("http_upstream_url", "https://127.0.0.1:1"),
                ],
                "http_upstream_url",
            ),
            (
                "zero workers",
                &[("fprocess", "cat"), ("workers", "0")],
                "workers",
            ),
            (
                "pool outside http",
                &[("fprocess", "cat"), ("workers", "2")],
                "workers",
            ),
            (
                "pool past the last port",
                &[
                    ("fprocess", "cat"),
                    ("mode", "http"),
                    ("upstream_url", "http://127.0.0.1:65535"),
                    ("workers", "2"),
                ],
                "workers",
            ),
            (
                "bad log_buffer_size",
                &[("fprocess", "cat"), ("log_buffer_size", "0")],
                "log_buffer_size",
            ),
        ];
        for (name, env, var) in cases {
            let err = load(env).expect_err(name);
            assert!(err.contains(var), "{name}: {err:?} should name {var}");
        }
    }

    #[test]
    fn every_listed_variable_is_read() {
        // deny_unknown_fields turns a name listed but not read into an error here.
        let values = |name: &str| match name {
            "mode" => "http",
            "upstream_url" | "http_upstream_url" => "http://127.0.0.1:5000",
            "port" | "metrics_port" | "max_inflight" | "workers" | "log_buffer_size" => "1",
            n if n.ends_with("_timeout") || n == "healthcheck_interval" => "1s",
            "write_debug"
            | "cgi_headers"
            | "marshal_request"
            | "debug_headers"
            | "suppress_lock"
            | "combine_output"
            | "http_buffer_req_body"
            | "buffer_http"
            | "prefix_logs"
            | "log_callid" => "true",
            _ => "/x",
        };
        let env = VARIABLES.iter().map(|n| (*n, values(n)));
        Config::from_env(env_from(env)).unwrap();
    }
}
