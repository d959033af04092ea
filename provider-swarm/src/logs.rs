//! Function logs: the Docker logs API of each replica's container, merged into one stream
//! of OpenFaaS log messages (CONTRACT.md §1.6.7, §6.10).

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use chrono::{DateTime, Utc};
use faas_provider::types::{LogMessage, LogRequest};
use faas_provider::{LogStream, ProviderError};
use futures::{stream, StreamExt};

use crate::engine;

/// One container to read, and the instance id messages carry (task id or container id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub container_id: String,
    pub instance: String,
}

/// Keeps the sources a request's `instance` names (a prefix of the id, as Docker accepts).
pub fn select(sources: Vec<Source>, instance: Option<&str>) -> Vec<Source> {
    match instance {
        Some(i) => sources
            .into_iter()
            .filter(|s| s.instance.starts_with(i) || s.container_id.starts_with(i))
            .collect(),
        None => sources,
    }
}

/// Splits one Docker log frame (`<RFC 3339 timestamp> <text>` per line) into messages.
pub fn parse_frame(frame: &[u8], name: &str, namespace: &str, instance: &str) -> Vec<LogMessage> {
    String::from_utf8_lossy(frame)
        .split('\n')
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            let (ts, text) = line.split_once(' ').unwrap_or((line, ""));
            let timestamp = DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc);
            Some(LogMessage {
                name: name.to_owned(),
                namespace: namespace.to_owned(),
                instance: instance.to_owned(),
                timestamp,
                text: text.trim_end_matches('\r').to_owned(),
            })
        })
        .collect()
}

fn options(r: &LogRequest) -> LogsOptions {
    LogsOptions {
        follow: r.follow,
        stdout: true,
        stderr: true,
        // Whole seconds only; the exact bound is applied to the parsed timestamps.
        since: r
            .since
            .map(|t| i32::try_from(t.timestamp()).unwrap_or(0))
            .unwrap_or(0),
        until: 0,
        timestamps: true,
        tail: r.tail.map_or_else(|| "all".to_owned(), |t| t.to_string()),
    }
}

fn one(
    docker: &Docker,
    source: Source,
    r: &LogRequest,
    namespace: &str,
) -> impl futures::Stream<Item = LogMessage> + Send + 'static {
    let name = r.name.to_string();
    let namespace = namespace.to_owned();
    let since = r.since;
    let instance = source.instance.clone();
    docker
        .logs(&source.container_id, Some(options(r)))
        .flat_map(move |frame| {
            let messages = match frame {
                Ok(out) => {
                    let bytes = match out {
                        LogOutput::StdOut { message }
                        | LogOutput::StdErr { message }
                        | LogOutput::Console { message }
                        | LogOutput::StdIn { message } => message,
                    };
                    parse_frame(&bytes, &name, &namespace, &instance)
                        .into_iter()
                        .filter(|m| since.is_none_or(|s| m.timestamp >= s))
                        .collect()
                }
                // A replica removed meanwhile has no logs left to read; the others go on.
                Err(e) => {
                    tracing::debug!(%instance, error = %engine::message(&e), "skipping a replica's logs");
                    Vec::new()
                }
            };
            stream::iter(messages)
        })
}

/// The logs of `sources`. Without `follow`, the lines of all replicas are read, sorted by
/// time and cut to `tail`; with `follow`, replicas' streams are interleaved as lines arrive,
/// until `limit` (the provider's write timeout) elapses.
pub async fn read(
    docker: &Docker,
    sources: Vec<Source>,
    r: &LogRequest,
    namespace: &str,
    limit: Duration,
) -> Result<LogStream, ProviderError> {
    let streams: Vec<_> = sources
        .into_iter()
        .map(|s| one(docker, s, r, namespace).boxed())
        .collect();
    if r.follow {
        let merged = stream::select_all(streams)
            .map(Ok)
            .take_until(tokio::time::sleep(limit));
        return Ok(merged.boxed());
    }
    let mut all = Vec::new();
    for s in streams {
        all.extend(s.collect::<Vec<_>>().await);
    }
    all.sort_by_key(|m| m.timestamp);
    if let Some(tail) = r.tail {
        let skip = all
            .len()
            .saturating_sub(usize::try_from(tail).unwrap_or(usize::MAX));
        all.drain(..skip);
    }
    Ok(stream::iter(all.into_iter().map(Ok)).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_messages() {
        let frame = b"2024-05-01T10:00:00.123456789Z hello world\n2024-05-01T10:00:01Z second\r\n";
        let m = parse_frame(frame, "echo", "openfaas-fn", "abc");
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].text, "hello world");
        assert_eq!(m[0].instance, "abc");
        assert_eq!(m[0].namespace, "openfaas-fn");
        assert_eq!(
            m[0].timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "2024-05-01T10:00:00.123456789Z"
        );
        assert_eq!(m[1].text, "second");
        assert!(parse_frame(b"not a timestamp\n", "e", "n", "i").is_empty());
        assert_eq!(
            parse_frame(b"2024-05-01T10:00:00Z\n", "e", "n", "i")[0].text,
            ""
        );
    }

    #[test]
    fn select_by_instance_prefix() {
        let s = |c: &str, i: &str| Source {
            container_id: c.into(),
            instance: i.into(),
        };
        let all = vec![s("c1", "task-a"), s("c2", "task-b")];
        assert_eq!(select(all.clone(), None).len(), 2);
        assert_eq!(select(all.clone(), Some("task-b")), vec![s("c2", "task-b")]);
        assert_eq!(select(all.clone(), Some("c1")), vec![s("c1", "task-a")]);
        assert!(select(all, Some("zzz")).is_empty());
    }
}
