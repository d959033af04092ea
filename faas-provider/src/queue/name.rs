//! `QueueName`: a validated queue name, and the subjects and consumer it maps to.

use std::fmt;

use crate::types::QueueRequest;

/// The function annotation that sends a function's async calls to a named queue.
pub const QUEUE_ANNOTATION: &str = "com.openfaas.queue";

/// The default queue's name: OpenFaaS's channel name, so `com.openfaas.queue: faas-request`
/// and no annotation at all mean the same queue.
pub const DEFAULT_QUEUE: &str = "faas-request";

/// Longest queue name: it ends up in a subject token and a durable consumer name.
pub const MAX_QUEUE_LEN: usize = 64;

/// A queue name that is a single NATS subject token and a valid durable-consumer name:
/// ASCII letters, digits, `-` and `_`, at most 64 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueueName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "queue name {name:?} is invalid: use 1 to {MAX_QUEUE_LEN} ASCII letters, digits, '-' or '_'"
)]
pub struct QueueNameError {
    pub name: String,
}

impl QueueName {
    /// `""` and [`DEFAULT_QUEUE`] are the default queue.
    pub fn parse(name: &str) -> Result<Self, QueueNameError> {
        let name = name.trim();
        if name.is_empty() {
            return Ok(Self::default());
        }
        let valid = name.len() <= MAX_QUEUE_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(QueueNameError { name: name.into() });
        }
        Ok(Self(name.to_owned()))
    }

    /// The queue a request was published to (its `QueueName` field).
    pub fn of(request: &QueueRequest) -> Result<Self, QueueNameError> {
        Self::parse(&request.queue_name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_QUEUE
    }

    /// `faas-request` for the default queue, `faas-request.<name>` for the others.
    pub fn subject(&self) -> String {
        if self.is_default() {
            super::REQUEST_STREAM.to_owned()
        } else {
            format!("{}.{}", super::REQUEST_STREAM, self.0)
        }
    }

    /// `faas-dead-letter.<name>`.
    pub fn dead_letter_subject(&self) -> String {
        format!("{}.{}", super::DEAD_LETTER_STREAM, self.0)
    }

    /// The durable consumer every worker of this queue shares: `<name>-workers`.
    pub fn durable(&self) -> String {
        format!("{}-workers", self.0)
    }
}

impl Default for QueueName {
    fn default() -> Self {
        Self(DEFAULT_QUEUE.to_owned())
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_subjects() {
        let cases = [
            ("", "faas-request", "faas-request", "faas-request-workers"),
            (
                "faas-request",
                "faas-request",
                "faas-request",
                "faas-request-workers",
            ),
            ("slow", "slow", "faas-request.slow", "slow-workers"),
            (" q_2 ", "q_2", "faas-request.q_2", "q_2-workers"),
        ];
        for (input, name, subject, durable) in cases {
            let q = QueueName::parse(input).unwrap();
            assert_eq!(q.as_str(), name, "{input:?}");
            assert_eq!(q.subject(), subject, "{input:?}");
            assert_eq!(q.durable(), durable, "{input:?}");
            assert_eq!(q.dead_letter_subject(), format!("faas-dead-letter.{name}"));
        }
    }

    #[test]
    fn invalid_names() {
        for bad in ["a.b", "a*", ">", "a b", "ü", &"a".repeat(65)] {
            let err = QueueName::parse(bad).unwrap_err();
            assert!(err.to_string().contains("is invalid"), "{bad:?}: {err}");
        }
    }
}
