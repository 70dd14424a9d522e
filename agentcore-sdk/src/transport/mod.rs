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

use crate::config::{Config, ConfigOverride, Plane, RetryConfig, TimeoutConfig};
use crate::error::{Error, request_id, service_error_from_response};

/// Largest error body read into memory; the rest is not read (it is only for the message).
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
    /// Rate limiters waited on before every attempt, retries included (a retry after a 429
    /// or a 409 goes through the limiter like the first attempt).
    pub(crate) limiters: Vec<std::sync::Arc<crate::config::limiter::CommandRateLimiter>>,
    /// An OAuth bearer token sent as `Authorization: Bearer` instead of a SigV4 signature
    /// (a runtime with a JWT authorizer).
    pub(crate) bearer: Option<BearerToken>,
}

/// A bearer token, never shown by `Debug`.
#[derive(Clone)]
pub(crate) struct BearerToken(pub(crate) String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("** redacted **")
    }
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
            limiters: Vec::new(),
            bearer: None,
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
#[derive(Clone)]
pub(crate) struct Transport {
    pub(crate) config: Config,
    /// What this call's builder overrides of the configuration.
    pub(crate) overrides: ConfigOverride,
    /// In unit tests: answers requests in memory instead of reqwest (paused time works).
    #[cfg(test)]
    pub(crate) fake: Option<tests::FakeExchange>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.config)
            .field("overrides", &self.overrides)
            .finish()
    }
}

impl Transport {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            overrides: ConfigOverride::default(),
            #[cfg(test)]
            fake: None,
        }
    }

    /// The retry settings of this call: the override's, else the configuration's.
    pub(crate) fn retry(&self) -> RetryConfig {
        self.overrides
            .get_retry_config()
            .unwrap_or(self.config.inner.retry)
    }

    /// The timeouts of this call: the override's, else the configuration's.
    pub(crate) fn timeouts(&self) -> TimeoutConfig {
        self.overrides
            .get_timeout_config()
            .unwrap_or(self.config.inner.timeouts)
    }

    /// Sends one HTTP request: through reqwest, or in unit tests through the fake.
    async fn exchange(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        #[cfg(test)]
        if let Some(fake) = &self.fake {
            let request = request
                .build()
                .map_err(|e| Error::transport(operation, e))?;
            return fake(request).await;
        }
        request
            .send()
            .await
            .map_err(|e| Error::transport(operation, e))
    }

    /// Signs and sends `req`, retrying retryable failures; returns a response whose status is a
    /// success. The body is not read.
    pub(crate) async fn send(&self, req: &Request) -> Result<reqwest::Response, Error> {
        self.send_within(req).await.map(|(resp, _)| resp)
    }

    /// [`send`](Self::send), with the deadline of the attempt that got the response: the body
    /// of a unary call is read within the same budget as its headers.
    async fn send_within(
        &self,
        req: &Request,
    ) -> Result<(reqwest::Response, tokio::time::Instant), Error> {
        let retry = self.retry();
        let timeouts = self.timeouts();
        let url = request_url(self.config.endpoint(req.plane), &req.path, &req.query);
        let mut attempt = 1u32;
        loop {
            for l in &req.limiters {
                l.acquire().await;
            }
            let span = tracing::debug_span!("attempt", attempt, request_id = tracing::field::Empty);
            let result = self
                .send_once(req, &url, &timeouts)
                .instrument(span.clone())
                .await;
            match result {
                Ok((resp, deadline)) => {
                    if let Some(id) = request_id(resp.headers()) {
                        span.record("request_id", id.as_str());
                        tracing::Span::current().record("request_id", id.as_str());
                    }
                    return Ok((resp, deadline));
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

    /// One attempt: sign, send, and for an error status read (part of) the error body — all
    /// within one budget, [`TimeoutConfig::operation`](crate::TimeoutConfig::operation).
    async fn send_once(
        &self,
        req: &Request,
        url: &str,
        timeouts: &TimeoutConfig,
    ) -> Result<(reqwest::Response, tokio::time::Instant), Error> {
        let cfg = &self.config.inner;
        let mut headers = req.headers.clone();
        if let Some(host) = host_header(self.config.endpoint(req.plane)) {
            headers.insert(http::header::HOST, host);
        }
        if let Some(BearerToken(token)) = &req.bearer {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Error::invalid("bearerToken", "must be a valid header value"))?;
            headers.insert(http::header::AUTHORIZATION, value);
        } else if let Some(creds) = signing::credentials(cfg, timeouts).await? {
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
        let budget = timeouts.get_operation();
        let deadline = deadline_after(budget);
        let resp = tokio::time::timeout_at(deadline, self.exchange(req.operation, builder))
            .await
            .map_err(|_| Error::Timeout {
                operation: req.operation,
                after: budget,
            })??;
        let status = resp.status();
        if status.is_success() {
            return Ok((resp, deadline));
        }
        let headers = resp.headers().clone();
        // The error body is only for the message: what arrived within the budget is enough,
        // and a body that stalls must not keep the error (and its retry) from happening.
        let mut body = Vec::new();
        let _ =
            tokio::time::timeout_at(deadline, read_capped(resp, MAX_ERROR_BODY, &mut body)).await;
        Err(service_error_from_response(status.as_u16(), &headers, &body).into())
    }

    /// Sends a unary request and reads its whole body within the budget of the attempt that
    /// got the response.
    pub(crate) async fn send_unary(&self, req: &Request) -> Result<(HeaderMap, Bytes), Error> {
        let (resp, deadline) = self.send_within(req).await?;
        let headers = resp.headers().clone();
        let budget = self.timeouts().get_operation();
        let body = tokio::time::timeout_at(deadline, resp.bytes())
            .await
            .map_err(|_| Error::Timeout {
                operation: req.operation,
                after: budget,
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

/// Reads at most `cap` bytes of the body into `out` (kept when the read is cut short).
async fn read_capped(mut resp: reqwest::Response, cap: usize, out: &mut Vec<u8>) {
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
        if out.len() >= cap {
            break;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_credential_types::Credentials;
    use aws_credential_types::provider::{ProvideCredentials, future};

    /// Answers a request in memory.
    pub(crate) type FakeExchange = Arc<dyn Fn(reqwest::Request) -> FakeAnswer + Send + Sync>;

    /// A fake exchange's answer (`Sync`, as the real one is).
    pub(crate) type FakeAnswer = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<reqwest::Response, Error>> + Send + Sync>,
    >;

    /// A transport whose HTTP exchanges are `fake`'s, with `timeouts` and `attempts`.
    pub(crate) fn transport(
        builder: crate::config::ConfigBuilder,
        timeouts: TimeoutConfig,
        attempts: u32,
        fake: impl Fn(reqwest::Request) -> FakeAnswer + Send + Sync + 'static,
    ) -> Transport {
        let config = builder
            .region("us-east-1")
            .endpoint_url("http://127.0.0.1:1")
            .timeout_config(timeouts)
            .retry_config(
                RetryConfig::standard()
                    .max_attempts(attempts)
                    .initial_backoff(Duration::from_millis(10)),
            )
            .build()
            .unwrap();
        Transport {
            fake: Some(Arc::new(fake)),
            ..Transport::new(config)
        }
    }

    fn static_creds() -> crate::config::ConfigBuilder {
        crate::config::Config::builder().static_credentials("AKID", "secret")
    }

    /// A response with `status` whose body is `body`.
    pub(crate) fn response<S>(status: u16, body: S) -> reqwest::Response
    where
        S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
    {
        reqwest::Response::from(
            http::Response::builder()
                .status(status)
                .body(reqwest::Body::wrap_stream(body))
                .unwrap(),
        )
    }

    fn get() -> Request {
        Request::control(
            "GetAgentRuntime",
            Method::GET,
            "/runtimes/a-0123456789/".into(),
        )
    }

    /// A 5xx whose body stalls used to hang the call (the error body was read without a
    /// timeout) so its retries never ran. Now the body is read within the attempt's budget,
    /// and the 500 is retried like any other.
    #[tokio::test(start_paused = true)]
    async fn a_stalled_error_body_is_bounded_and_retried() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let t = transport(
            static_creds(),
            TimeoutConfig::standard().operation(Duration::from_secs(10)),
            2,
            move |_| {
                seen.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { Ok(response(500, futures::stream::pending())) })
            },
        );
        let result = tokio::time::timeout(Duration::from_secs(600), t.send_unary(&get()))
            .await
            .expect("a stalled error body does not hang the call");
        let err = result.unwrap_err();
        assert_eq!(
            err.as_service().and_then(|s| s.status()),
            Some(500),
            "{err}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the 500 was retried");
    }

    /// `TimeoutConfig::operation` is one attempt, body included: headers after 40 s and a
    /// body after 40 more do not fit in 60 s (they used to get 60 s each).
    #[tokio::test(start_paused = true)]
    async fn headers_and_body_share_one_budget() {
        let t = transport(
            static_creds(),
            TimeoutConfig::standard().operation(Duration::from_secs(60)),
            1,
            |_| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(40)).await;
                    let body = futures::stream::once(async {
                        tokio::time::sleep(Duration::from_secs(40)).await;
                        Ok(Bytes::from_static(b"{}"))
                    });
                    Ok(response(200, body))
                })
            },
        );
        let err = t.send_unary(&get()).await.unwrap_err();
        assert!(
            matches!(err, Error::Timeout { after, .. } if after == Duration::from_secs(60)),
            "{err}"
        );
    }

    /// A provider that never answers: every request waits for the same one load (the
    /// provider is asked once), and all of them fail when its deadline passes. They used to
    /// queue on one lock forever.
    #[tokio::test(start_paused = true)]
    async fn a_stuck_credentials_provider_fails_every_caller_at_one_deadline() {
        #[derive(Debug)]
        struct Stuck(Arc<AtomicUsize>);
        impl ProvideCredentials for Stuck {
            fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
            where
                Self: 'a,
            {
                self.0.fetch_add(1, Ordering::SeqCst);
                future::ProvideCredentials::new(std::future::pending())
            }
        }
        let asked = Arc::new(AtomicUsize::new(0));
        let t = transport(
            crate::config::Config::builder().credentials_provider(Stuck(asked.clone())),
            TimeoutConfig::standard(),
            1,
            |_| Box::pin(async { Ok(response(200, futures::stream::empty())) }),
        );
        let req = get();
        let calls = (0..5).map(|_| t.send_unary(&req));
        let results =
            tokio::time::timeout(Duration::from_secs(600), futures::future::join_all(calls))
                .await
                .expect("a stuck provider does not hang the callers");
        for r in results {
            assert!(matches!(r, Err(Error::Credentials { .. })), "{r:?}");
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "one load for all callers");
    }

    /// Credentials about to expire are refreshed, but while the refresh fails (here: never
    /// answers) the ones still valid are used: a slow provider does not stop requests.
    #[tokio::test(start_paused = true)]
    async fn still_valid_credentials_carry_on_while_a_refresh_is_stuck() {
        #[derive(Debug)]
        struct ThenStuck(AtomicUsize);
        impl ProvideCredentials for ThenStuck {
            fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
            where
                Self: 'a,
            {
                if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Valid for 2 more minutes: inside the 5-minute refresh margin.
                    let expiry = std::time::SystemTime::now() + Duration::from_secs(120);
                    future::ProvideCredentials::ready(Ok(Credentials::new(
                        "AKID",
                        "secret",
                        None,
                        Some(expiry),
                        "test",
                    )))
                } else {
                    future::ProvideCredentials::new(std::future::pending())
                }
            }
        }
        let t = transport(
            crate::config::Config::builder().credentials_provider(ThenStuck(AtomicUsize::new(0))),
            TimeoutConfig::standard(),
            1,
            |r| {
                let signed = r.headers().contains_key(http::header::AUTHORIZATION);
                Box::pin(async move {
                    assert!(signed, "the request is signed");
                    Ok(response(200, futures::stream::empty()))
                })
            },
        );
        t.send_unary(&get()).await.unwrap();
        tokio::time::timeout(Duration::from_secs(600), t.send_unary(&get()))
            .await
            .expect("a stuck refresh does not hang the call")
            .unwrap();
    }

    /// `config_override` replaces the client's retries and timeouts for one call: the same
    /// slow answer fits the client's 60 s budget, not the call's 1 s one, and the call makes
    /// one attempt instead of the client's three.
    #[tokio::test(start_paused = true)]
    async fn a_builder_override_applies_to_its_call_only() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let t = transport(static_creds(), TimeoutConfig::standard(), 3, move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(response(500, futures::stream::empty()))
            })
        });
        let quick = crate::config::ConfigOverride::new()
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::standard().operation(Duration::from_secs(1)));
        let get = crate::control::GetAgentRuntime::new(t.clone(), "coder-AbCdE12345".into());
        let err = get.clone().config_override(quick).send().await.unwrap_err();
        assert!(
            matches!(err, Error::Timeout { after, .. } if after == Duration::from_secs(1)),
            "{err}"
        );
        assert_eq!(calls.swap(0, Ordering::SeqCst), 1);
        // The builder without the override: the client's settings (3 attempts of a slow 500).
        let err = get.send().await.unwrap_err();
        assert_eq!(
            err.as_service().and_then(|s| s.status()),
            Some(500),
            "{err}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    /// Every attempt waits for the request's limiters, retries too: after a 429 the retry
    /// does not jump the queue (it used to skip the limiter).
    #[tokio::test(start_paused = true)]
    async fn retries_wait_for_the_limiter() {
        let start = tokio::time::Instant::now();
        let at = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = at.clone();
        let t = transport(static_creds(), TimeoutConfig::standard(), 3, move |_| {
            seen.lock().unwrap().push(start.elapsed().as_millis());
            Box::pin(async { Ok(response(429, futures::stream::empty())) })
        });
        let limiter = Arc::new(crate::config::limiter::CommandRateLimiter::per_second(1));
        let mut req = get();
        req.limiters.push(limiter);
        let err = t.send_unary(&req).await.unwrap_err();
        assert_eq!(err.as_service().and_then(|s| s.status()), Some(429));
        let at = at.lock().unwrap().clone();
        assert_eq!(at.len(), 3);
        // One permit a second: the retries wait for theirs (backoff is 10-20 ms).
        assert_eq!(at[0], 0);
        assert!(at[1] >= 1000 && at[2] >= 2000, "{at:?}");
    }

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
