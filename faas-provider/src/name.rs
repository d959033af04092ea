//! `FunctionName`: a validated function name, and the `name.namespace` form clients send.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest name a DNS label (and so a Docker service name used as a host name) allows.
pub const MAX_NAME_LEN: usize = 63;

/// A function name that is both a valid Docker service/container name and a DNS label
/// (RFC 1123): lowercase letters, digits and `-`, starting and ending with a letter or digit,
/// at most 63 characters. Dots are excluded because `name.namespace` addresses a namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FunctionName(String);

/// Why a string is not a [`FunctionName`]; the message is what a user sees in a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("function name is empty")]
    Empty,
    #[error("function name {name:?} is longer than {MAX_NAME_LEN} characters")]
    TooLong { name: String },
    #[error("function name {name:?} must start and end with a lowercase letter or digit")]
    BadEnds { name: String },
    #[error(
        "function name {name:?} has {bad:?}: only lowercase letters, digits and '-' are allowed"
    )]
    BadChar { name: String, bad: char },
}

impl FunctionName {
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong { name: name.into() });
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(NameError::BadChar {
                name: name.into(),
                bad,
            });
        }
        if name.starts_with('-') || name.ends_with('-') {
            return Err(NameError::BadEnds { name: name.into() });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FunctionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for FunctionName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for FunctionName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A function addressed as clients do: `name` or `name.namespace` (split at the last dot,
/// as the OpenFaaS gateway does). The namespace is `None` when the client gave none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: FunctionName,
    pub namespace: Option<String>,
}

impl FunctionRef {
    pub fn parse(segment: &str) -> Result<Self, NameError> {
        match segment.rsplit_once('.') {
            Some((name, ns)) if !name.is_empty() => Ok(Self {
                name: FunctionName::parse(name)?,
                namespace: (!ns.is_empty()).then(|| ns.to_owned()),
            }),
            _ => Ok(Self {
                name: FunctionName::parse(segment)?,
                namespace: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for name in ["a", "figlet", "nodeinfo-2", "0abc", &"a".repeat(63)] {
            assert_eq!(FunctionName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn invalid_names_say_why() {
        let cases = [
            ("", NameError::Empty),
            (
                "Figlet",
                NameError::BadChar {
                    name: "Figlet".into(),
                    bad: 'F',
                },
            ),
            (
                "func_nodeinfo",
                NameError::BadChar {
                    name: "func_nodeinfo".into(),
                    bad: '_',
                },
            ),
            (
                "a.b",
                NameError::BadChar {
                    name: "a.b".into(),
                    bad: '.',
                },
            ),
            ("-a", NameError::BadEnds { name: "-a".into() }),
            ("a-", NameError::BadEnds { name: "a-".into() }),
            (
                &"a".repeat(64),
                NameError::TooLong {
                    name: "a".repeat(64),
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(FunctionName::parse(input).unwrap_err(), want, "{input:?}");
        }
    }

    #[test]
    fn function_ref_splits_at_last_dot() {
        let r = FunctionRef::parse("echo.openfaas-fn").unwrap();
        assert_eq!(r.name.as_str(), "echo");
        assert_eq!(r.namespace.as_deref(), Some("openfaas-fn"));
        let r = FunctionRef::parse("echo").unwrap();
        assert_eq!(r.namespace, None);
        assert!(FunctionRef::parse(".hidden").is_err());
        assert!(FunctionRef::parse("a.b.c").is_err());
    }

    #[test]
    fn deserialize_rejects_bad_names() {
        let err = serde_json::from_str::<FunctionName>("\"Bad Name\"").unwrap_err();
        assert!(err.to_string().contains("only lowercase"), "{err}");
    }
}
