//! `HttpProvider`: a `Provider` that talks to a remote provider's HTTP API.

use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::ERROR_JSON;
use crate::auth::Credentials;
use crate::error::{ErrorBody, ProviderError};
use crate::name::FunctionName;
use crate::provider::{LogStream, Provider};
use crate::types::{
    DeleteFunctionRequest, FunctionDeployment, FunctionStatus, LogRequest, ProviderInfo,
    ReadyEndpoints, ScaleServiceRequest, Secret,
};

#[derive(Clone, Debug)]
pub struct HttpProvider {
    base: url::Url,
    client: reqwest::Client,
    credentials: Option<Credentials>,
    timeout: Duration,
}

impl HttpProvider {
    /// `base_url` as OpenFaaS's `functions_provider_url` (`http://provider:8080/`). `timeout`
    /// bounds each call except log streams, which last as long as the caller reads.
    pub fn new(
        base_url: &str,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Result<Self, ProviderError> {
        let mut base = url::Url::parse(base_url)
            .map_err(|e| ProviderError::Invalid(format!("provider URL {base_url:?}: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ProviderError::Internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            base,
            client,
            credentials,
            timeout,
        })
    }

    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        // `path` is a constant or built from validated names, so joining cannot fail.
        let url = self.base.join(path).unwrap_or_else(|_| self.base.clone());
        let mut req = self
            .client
            .request(method, url)
            .header(reqwest::header::ACCEPT, ERROR_JSON);
        if let Some(c) = &self.credentials {
            req = req.header(reqwest::header::AUTHORIZATION, c.header_value());
        }
        req
    }

    async fn send(
        &self,
        req: RequestBuilder,
        subject: Subject<'_>,
    ) -> Result<Response, ProviderError> {
        let res = req.send().await.map_err(transport_error)?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        Err(error_from_response(status, &body, subject))
    }

    async fn call<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        subject: Subject<'_>,
    ) -> Result<Response, ProviderError> {
        let mut req = self.request(method, path).timeout(self.timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req, subject).await
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        subject: Subject<'_>,
    ) -> Result<T, ProviderError> {
        let res = self.call::<()>(Method::GET, path, None, subject).await?;
        res.json().await.map_err(|e| {
            ProviderError::Internal(format!("provider answered {path} with bad JSON: {e}"))
        })
    }
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout(format!("provider: {e}"))
    } else {
        ProviderError::Unavailable(format!("provider: {e}"))
    }
}

/// What a call was about, so a bare 404 or 409 from a provider that sends no structured body
/// (faas-swarm answers 404 with an empty body) becomes the right variant.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    None,
    Function(&'a str),
    Secret(&'a str),
}

/// Maps an error answer back to its variant: exactly, from our JSON body; by status code
/// and subject, from other providers.
pub fn error_from_response(status: StatusCode, body: &str, subject: Subject<'_>) -> ProviderError {
    if let Ok(b) = serde_json::from_str::<ErrorBody>(body) {
        if let Some(e) = ProviderError::from_parts(&b.kind, b.detail) {
            return e;
        }
    }
    let text = if body.trim().is_empty() {
        format!("provider answered {status}")
    } else {
        body.trim().to_owned()
    };
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ProviderError::Invalid(text),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Unauthorized,
        StatusCode::NOT_FOUND => match subject {
            Subject::Function(n) => ProviderError::FunctionNotFound(n.to_owned()),
            Subject::Secret(n) => ProviderError::SecretNotFound(n.to_owned()),
            Subject::None => ProviderError::NotSupported(text),
        },
        StatusCode::CONFLICT => match subject {
            Subject::Secret(n) => ProviderError::SecretExists(n.to_owned()),
            Subject::Function(n) => ProviderError::FunctionExists(n.to_owned()),
            Subject::None => ProviderError::Invalid(text),
        },
        StatusCode::NOT_IMPLEMENTED | StatusCode::METHOD_NOT_ALLOWED => {
            ProviderError::NotSupported(text)
        }
        StatusCode::BAD_GATEWAY => ProviderError::Backend(text),
        StatusCode::SERVICE_UNAVAILABLE => ProviderError::Unavailable(text),
        StatusCode::GATEWAY_TIMEOUT => ProviderError::Timeout(text),
        _ => ProviderError::Internal(text),
    }
}

#[async_trait]
impl Provider for HttpProvider {
    async fn list(&self) -> Result<Vec<FunctionStatus>, ProviderError> {
        self.get_json("system/functions", Subject::None).await
    }

    async fn get(&self, name: &FunctionName) -> Result<FunctionStatus, ProviderError> {
        self.get_json(
            &format!("system/function/{name}"),
            Subject::Function(name.as_str()),
        )
        .await
    }

    async fn deploy(&self, d: FunctionDeployment) -> Result<(), ProviderError> {
        let subject = d.service.to_string();
        self.call(
            Method::POST,
            "system/functions",
            Some(&d),
            Subject::Function(&subject),
        )
        .await?;
        Ok(())
    }

    async fn update(&self, d: FunctionDeployment) -> Result<(), ProviderError> {
        let subject = d.service.to_string();
        self.call(
            Method::PUT,
            "system/functions",
            Some(&d),
            Subject::Function(&subject),
        )
        .await?;
        Ok(())
    }

    async fn delete(&self, name: &FunctionName) -> Result<(), ProviderError> {
        let body = DeleteFunctionRequest {
            function_name: name.clone(),
            namespace: String::new(),
        };
        self.call(
            Method::DELETE,
            "system/functions",
            Some(&body),
            Subject::Function(name.as_str()),
        )
        .await?;
        Ok(())
    }

    async fn scale(&self, name: &FunctionName, replicas: u64) -> Result<(), ProviderError> {
        let body = ScaleServiceRequest {
            service_name: name.to_string(),
            replicas,
            namespace: String::new(),
        };
        let path = format!("system/scale-function/{name}");
        self.call(
            Method::POST,
            &path,
            Some(&body),
            Subject::Function(name.as_str()),
        )
        .await?;
        Ok(())
    }

    async fn endpoints(&self, name: &FunctionName) -> Result<ReadyEndpoints, ProviderError> {
        self.get_json(
            &format!("system/endpoints/{name}"),
            Subject::Function(name.as_str()),
        )
        .await
    }

    async fn list_secrets(&self) -> Result<Vec<Secret>, ProviderError> {
        self.get_json("system/secrets", Subject::None).await
    }

    async fn create_secret(&self, s: Secret) -> Result<(), ProviderError> {
        let subject = s.name.clone();
        self.call(
            Method::POST,
            "system/secrets",
            Some(&s),
            Subject::Secret(&subject),
        )
        .await?;
        Ok(())
    }

    async fn update_secret(&self, s: Secret) -> Result<(), ProviderError> {
        let subject = s.name.clone();
        self.call(
            Method::PUT,
            "system/secrets",
            Some(&s),
            Subject::Secret(&subject),
        )
        .await?;
        Ok(())
    }

    async fn delete_secret(&self, name: &str) -> Result<(), ProviderError> {
        let body = Secret {
            name: name.to_owned(),
            ..Default::default()
        };
        self.call(
            Method::DELETE,
            "system/secrets",
            Some(&body),
            Subject::Secret(name),
        )
        .await?;
        Ok(())
    }

    async fn logs(&self, r: LogRequest) -> Result<LogStream, ProviderError> {
        let mut query = vec![
            ("name", r.name.to_string()),
            ("follow", r.follow.to_string()),
        ];
        if let Some(ns) = r.namespace {
            query.push(("namespace", ns));
        }
        if let Some(i) = r.instance {
            query.push(("instance", i));
        }
        if let Some(t) = r.tail {
            query.push(("tail", t.to_string()));
        }
        if let Some(s) = r.since {
            query.push(("since", s.to_rfc3339()));
        }
        let req = self.request(Method::GET, "system/logs").query(&query);
        let res = self.send(req, Subject::Function(r.name.as_str())).await?;
        let bytes = res
            .bytes_stream()
            .map_err(|e| ProviderError::Unavailable(format!("log stream: {e}")));
        Ok(ndjson(bytes).boxed())
    }

    async fn namespaces(&self) -> Result<Vec<String>, ProviderError> {
        self.get_json("system/namespaces", Subject::None).await
    }

    async fn info(&self) -> Result<ProviderInfo, ProviderError> {
        self.get_json("system/info", Subject::None).await
    }

    async fn health(&self) -> Result<(), ProviderError> {
        self.call::<()>(Method::GET, "healthz", None, Subject::None)
            .await?;
        Ok(())
    }
}

/// Decodes a byte stream of NDJSON into values, one per non-empty line.
fn ndjson<T, S>(bytes: S) -> impl futures::Stream<Item = Result<T, ProviderError>>
where
    T: DeserializeOwned,
    S: futures::Stream<Item = Result<bytes::Bytes, ProviderError>> + Unpin,
{
    use tokio_util::codec::{FramedRead, LinesCodec};
    use tokio_util::io::StreamReader;

    let reader = StreamReader::new(bytes.map_err(std::io::Error::other));
    // A log line longer than this is a broken stream, not a line to buffer forever.
    FramedRead::new(reader, LinesCodec::new_with_max_length(1 << 20))
        .try_filter(|line| futures::future::ready(!line.trim().is_empty()))
        .map(|line| {
            let line = line.map_err(|e| ProviderError::Unavailable(format!("log stream: {e}")))?;
            serde_json::from_str(&line)
                .map_err(|e| ProviderError::Internal(format!("bad log line {line:?}: {e}")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_statuses_from_other_providers() {
        let cases = [
            (
                404,
                "",
                Subject::Function("f"),
                ProviderError::FunctionNotFound("f".into()),
            ),
            (
                404,
                "",
                Subject::Secret("s"),
                ProviderError::SecretNotFound("s".into()),
            ),
            (
                409,
                "exists",
                Subject::Secret("s"),
                ProviderError::SecretExists("s".into()),
            ),
            (
                400,
                "Cannot parse request.",
                Subject::None,
                ProviderError::Invalid("Cannot parse request.".into()),
            ),
            (
                401,
                "invalid credentials",
                Subject::None,
                ProviderError::Unauthorized,
            ),
            (
                405,
                "",
                Subject::None,
                ProviderError::NotSupported("provider answered 405 Method Not Allowed".into()),
            ),
            (
                500,
                "boom\n",
                Subject::None,
                ProviderError::Internal("boom".into()),
            ),
            (
                503,
                "down",
                Subject::None,
                ProviderError::Unavailable("down".into()),
            ),
        ];
        for (status, body, subject, want) in cases {
            let got = error_from_response(StatusCode::from_u16(status).unwrap(), body, subject);
            assert_eq!(got, want, "{status} {body:?}");
        }
    }
}
