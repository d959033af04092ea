//! Basic-auth credentials read from `secret_mount_path`, and the check on incoming requests.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use subtle::ConstantTimeEq;

pub const USER_FILE: &str = "basic-auth-user";
pub const PASSWORD_FILE: &str = "basic-auth-password";
/// As OpenFaaS sends it.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Restricted\"";

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    password: String,
}

/// The password never reaches a log line.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("unable to read {path} (basic_auth=true needs it under secret_mount_path)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is empty")]
    Empty { path: PathBuf },
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// Reads `basic-auth-user` and `basic-auth-password`, trimming surrounding whitespace.
    pub fn read_from(dir: &Path) -> Result<Self, CredentialsError> {
        let read = |file: &str| {
            let path = dir.join(file);
            let raw = std::fs::read_to_string(&path).map_err(|source| CredentialsError::Read {
                path: path.clone(),
                source,
            })?;
            let value = raw.trim().to_owned();
            if value.is_empty() {
                return Err(CredentialsError::Empty { path });
            }
            Ok(value)
        };
        Ok(Self::new(read(USER_FILE)?, read(PASSWORD_FILE)?))
    }

    /// `Basic <base64(user:password)>`, for requests we send.
    pub fn header_value(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// Checks an `Authorization` header; the password is compared in constant time.
    pub fn verify(&self, authorization: Option<&[u8]>) -> bool {
        let Some(encoded) = authorization.and_then(|h| h.strip_prefix(b"Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii())
        else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_ok = user.ct_eq(self.user.as_bytes());
        let password_ok = password.ct_eq(self.password.as_bytes());
        bool::from(user_ok & password_ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_table() {
        let c = Credentials::new("admin", "secret");
        let good = c.header_value();
        assert!(c.verify(Some(good.as_bytes())));
        let wrong = Credentials::new("admin", "other").header_value();
        let cases: [Option<&[u8]>; 5] = [
            None,
            Some(b"Bearer abc"),
            Some(b"Basic !!!"),
            Some(b"Basic YWRtaW4="), // no colon
            Some(wrong.as_bytes()),
        ];
        for h in cases {
            assert!(!c.verify(h), "{h:?}");
        }
    }

    #[test]
    fn reads_and_trims_files() {
        let dir = tempfile_dir();
        std::fs::write(dir.join(USER_FILE), "admin\n").unwrap();
        std::fs::write(dir.join(PASSWORD_FILE), " pw \n").unwrap();
        assert_eq!(
            Credentials::read_from(&dir).unwrap(),
            Credentials::new("admin", "pw")
        );
        std::fs::remove_file(dir.join(PASSWORD_FILE)).unwrap();
        let err = Credentials::read_from(&dir).unwrap_err().to_string();
        assert!(err.contains("basic-auth-password"), "{err}");
        assert!(!format!("{:?}", Credentials::new("a", "pw")).contains("pw"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faas-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
