//! How a request reaches the service: build the URL, sign it, send it, retry it.
//!
//! Every operation turns its input into a [`Request`] and calls [`Transport::send`], which
//! returns the response once its status is a success. Error statuses become
//! [`ServiceError`](crate::ServiceError)s; retryable ones are retried with backoff first.
//! The response body is left to the caller, so a stream is never re-sent once it started.

pub(crate) mod signing;
#[cfg(feature = "shell")]
pub(crate) mod websocket;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tracing::Instrument;

use crate::config::{Config, Plane};
use crate::error::{Error, request_id, service_error_from_response};

/// Largest error body read into memory; the rest is dropped (it is only for the message).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request ready to be signed and sent.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) operation: &'static str,
    pub(crate) plane: Plane,
    pub(crate) method: Method,
    /// The path, already percent-encoded segment by segment.
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Whether a whole-call timeout applies (unary calls) or only a time-to-headers one
    /// (streams).
    pub(crate) streaming: bool,
}

impl Request {
    pub(crate) fn new(operation: &'static str, plane: Plane, method: Method, path: String) -> Self {
        Self {
            operation,
            plane,
            method,
            path,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            streaming: false,
        }
    }

    /// A control-plane request.
    pub(crate) fn control(operation: &'static str, method: Method, path: String) -> Self {
        Self::new(operation, Plane::Control, method, path)
    }

    pub(crate) fn query(mut self, key: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((key, v.to_string()));
        }
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: Option<&str>) -> Result<Self, Error> {
        if let Some(v) = value {
            let value = HeaderValue::from_str(v).map_err(|_| {
                Error::invalid(name, "must be visible ASCII (a valid HTTP header value)")
            })?;
            self.headers.insert(HeaderName::from_static(name), value);
        }
        Ok(self)
    }

    pub(crate) fn json_body(mut self, body: &impl serde::Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::invalid("body", format!("cannot be serialized: {e}")))?;
        self.body = Bytes::from(bytes);
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Ok(self)
    }

    pub(crate) fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }
}

/// Builds the URL of `req` against `base`: the base path is kept, the request path appended.
/// `now + d`, or a far-future instant when that overflows: user-supplied durations such as
/// `Duration::MAX` mean "no limit", never a panic.
pub(crate) fn deadline_after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    // Beyond tokio's range: 30 years, which always fits (`now` itself is unreachable).
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(30 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

pub(crate) fn request_url(base: &url::Url, path: &str, query: &[(&str, String)]) -> String {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(path);
    if !query.is_empty() {
        s.push('?');
        for (i, (k, v)) in query.iter().enumerate() {
            if i > 0 {
                s.push('&');
            }
            s.push_str(k);
            s.push('=');
            s.push_str(&crate::types::encode_segment(v));
        }
    }
    s
}

/// Sends requests for one client.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) config: Config,
}

impl Transport {
    /// Signs and sends `req`, retrying retryable failures; returns a response whose status is a
    /// success. The body is not read.
    pub(crate) async fn send(&self, req: &Request) -> Result<reqwest::Response, Error> {
        let cfg = &self.config.inner;
        let retry = cfg.retry;
        let url = request_url(self.config.endpoint(req.plane), &req.path, &req.query);
        let mut attempt = 1u32;
        loop {
            let span = tracing::debug_span!("attempt", attempt, request_id = tracing::field::Empty);
            let result = self.send_once(req, &url).instrument(span.clone()).await;
            match result {
                Ok(resp) => {
                    if let Some(id) = request_id(resp.headers()) {
                        span.record("request_id", id.as_str());
                        tracing::Span::current().record("request_id", id.as_str());
                    }
                    return Ok(resp);
                }
                Err(err) => {
                    if !err.is_retryable() || attempt >= retry.get_max_attempts() {
                        return Err(err);
                    }
                    let delay = retry.backoff(attempt);
                    tracing::debug!(operation = req.operation, attempt, ?delay, error = %err, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }

    async fn send_once(&self, req: &Request, url: &str) -> Result<reqwest::Response, Error> {
        let cfg = &self.config.inner;
        let mut headers = req.headers.clone();
        if let Some(host) = host_header(self.config.endpoint(req.plane)) {
            headers.insert(http::header::HOST, host);
        }
        if let Some(creds) = signing::credentials(cfg).await? {
            signing::sign_headers(
                &creds,
                &cfg.region,
                req.method.as_str(),
                url,
                &mut headers,
                &req.body,
            )?;
        }
        // reqwest sets Host itself from the URL; a duplicate would be rejected by some servers.
        headers.remove(http::header::HOST);
        let builder = cfg
            .http
            .request(req.method.clone(), url)
            .headers(headers)
            .body(req.body.clone());
        let timeout = cfg.timeouts.get_operation();
        let resp = match tokio::time::timeout(timeout, builder.send()).await {
            Err(_) => {
                return Err(Error::Timeout {
                    operation: req.operation,
                    after: timeout,
                });
            }
            Ok(Err(e)) => return Err(Error::transport(req.operation, e)),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        let body = read_capped(resp, MAX_ERROR_BODY).await;
        Err(service_error_from_response(status.as_u16(), &headers, &body).into())
    }

    /// Sends a unary request and reads its whole body within the operation timeout.
    pub(crate) async fn send_unary(&self, req: &Request) -> Result<(HeaderMap, Bytes), Error> {
        let resp = self.send(req).await?;
        let headers = resp.headers().clone();
        let timeout = self.config.inner.timeouts.get_operation();
        let body = tokio::time::timeout(timeout, resp.bytes())
            .await
            .map_err(|_| Error::Timeout {
                operation: req.operation,
                after: timeout,
            })?
            .map_err(|e| Error::transport(req.operation, e))?;
        Ok((headers, body))
    }

    /// Sends a unary request and decodes its JSON body.
    pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        req: &Request,
    ) -> Result<T, Error> {
        let (_, body) = self.send_unary(req).await?;
        let body = if body.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            body
        };
        serde_json::from_slice(&body).map_err(|e| {
            Error::malformed_with(
                format!("{} response body is not the expected JSON", req.operation),
                e,
            )
        })
    }
}

fn host_header(url: &url::Url) -> Option<HeaderValue> {
    let host = url.host_str()?;
    let value = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    HeaderValue::from_str(&value).ok()
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
        if out.len() >= cap {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_keeps_base_path_and_encodes_query() {
        let base = url::Url::parse("https://proxy.example.com/agentcore/").unwrap();
        let u = request_url(
            &base,
            "/runtimes/a%3Ab/commands",
            &[("qualifier", "DEFAULT".into()), ("x", "a b/c".into())],
        );
        assert_eq!(
            u,
            "https://proxy.example.com/agentcore/runtimes/a%3Ab/commands?qualifier=DEFAULT&x=a%20b%2Fc"
        );
    }
}
