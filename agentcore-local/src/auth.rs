//! Optional SigV4 verification (`--verify-sigv4`): signed headers, presigned URLs, and bearer
//! tokens on shell upgrades. A request that fails gets 403 `AccessDeniedException`.
//!
//! Verification recomputes the signature with `aws-sigv4` from exactly the headers the client
//! says it signed, at the time it says it signed, with the secret of its access key.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agentcore_sdk::ServiceErrorKind;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::api_error::ApiError;

/// Largest body the verifier buffers (the invocation payload limit plus slack).
const MAX_BODY: usize = agentcore_sdk::data::MAX_PAYLOAD_BYTES + 1024;
/// Allowed clock skew for signed requests.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Who may call when verification is on. `Debug` shows access key ids, never secrets or
/// tokens.
#[derive(Clone, Default)]
pub struct Verifier {
    /// Access key id → secret access key.
    pub keys: HashMap<String, String>,
    /// Bearer tokens accepted on shell upgrades, invocations and session endpoints.
    pub bearer_tokens: Vec<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("access_key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field(
                "bearer_tokens",
                &format_args!("{} redacted", self.bearer_tokens.len()),
            )
            .finish()
    }
}

fn denied(message: impl Into<String>) -> Response {
    ApiError::new(ServiceErrorKind::AccessDenied, message).into_response()
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    use aws_smithy_types::date_time::{DateTime, Format};
    // 20261121T133320Z → 2026-11-21T13:33:20Z (byte positions: ASCII only, or no slicing)
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let part = |r: std::ops::Range<usize>| s.get(r);
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4)?,
        part(4..6)?,
        part(6..8)?,
        part(9..11)?,
        part(11..13)?,
        part(13..15)?
    );
    DateTime::from_str(&iso, Format::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}

struct Claimed {
    access_key: String,
    region: String,
    signed_headers: Vec<String>,
    signature: String,
    time: SystemTime,
}

/// The region a request was signed for (`Authorization` credential scope or a presigned
/// URL's `X-Amz-Credential`), whether or not signatures are verified.
pub fn signed_region(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| {
            let (_, rest) = a.split_once("Credential=")?;
            let cred = rest.split([',', ' ']).next()?;
            parse_credential(cred)
        });
    let from_query = || {
        let q = uri.query()?;
        let cred = url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")?
            .1
            .into_owned();
        parse_credential(&cred)
    };
    let (_, region, _) = from_header.or_else(from_query)?;
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then_some(region)
}

fn parse_credential(cred: &str) -> Option<(String, String, String)> {
    // AKID/20261121/us-east-1/bedrock-agentcore/aws4_request
    let parts: Vec<&str> = cred.split('/').collect();
    match parts[..] {
        [akid, _date, region, service, "aws4_request"] => {
            Some((akid.to_owned(), region.to_owned(), service.to_owned()))
        }
        _ => None,
    }
}

fn claimed_from_header(auth: &str, date: Option<&str>) -> Result<Claimed, String> {
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("unsupported authorization scheme")?;
    let mut cred = None;
    let mut signed = None;
    let mut sig = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            cred = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let (access_key, region, service) =
        parse_credential(cred.ok_or("no Credential")?).ok_or("malformed Credential")?;
    if service != "bedrock-agentcore" {
        return Err(format!(
            "credential scope names service {service:?}, not bedrock-agentcore"
        ));
    }
    let time = date
        .and_then(parse_amz_date)
        .ok_or("missing or malformed x-amz-date")?;
    Ok(Claimed {
        access_key,
        region,
        signed_headers: signed
            .ok_or("no SignedHeaders")?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: sig.ok_or("no Signature")?.to_owned(),
        time,
    })
}

fn skew_ok(t: SystemTime) -> bool {
    let now = SystemTime::now();
    let d = now
        .duration_since(t)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    d <= MAX_SKEW
}

/// The signature `aws-sigv4` computes for this request.
#[allow(clippy::too_many_arguments)]
fn compute(
    secret: &str,
    claimed: &Claimed,
    token: Option<&str>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    presign_expires: Option<Duration>,
) -> Result<String, String> {
    let creds = Credentials::new(
        &claimed.access_key,
        secret,
        token.map(str::to_owned),
        None,
        "verify",
    );
    let identity: Identity = creds.into();
    let mut settings = SigningSettings::default();
    settings.excluded_headers = Some(Vec::<Cow<'static, str>>::new());
    if let Some(exp) = presign_expires {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(exp);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&claimed.region)
        .name("bedrock-agentcore")
        .time(claimed.time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    // Presigned GETs sign the empty payload's hash, like the SDK and botocore do.
    let body = SignableBody::Bytes(body);
    let req = SignableRequest::new(method, url, headers.iter().copied(), body)
        .map_err(|e| e.to_string())?;
    let (_, signature) = sign(req, &params).map_err(|e| e.to_string())?.into_parts();
    Ok(signature)
}

/// The values of the headers a client says it signed (`host` from the request's Host).
fn signed_header_values<'a>(
    names: &'a [String],
    host: &'a str,
    headers: &'a axum::http::HeaderMap,
) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .filter_map(|h| {
            if h == "host" {
                Some(("host", host))
            } else {
                headers
                    .get(h.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(|v| (h.as_str(), v))
            }
        })
        .collect()
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Axum middleware: verifies every request or answers 403.
pub async fn verify(State(v): State<Arc<Verifier>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::validation("body", "request body too large").into_response(),
    };
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    // The URI as the client sent (and signed) it, before the trailing slash was trimmed.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    // Session endpoints also take a bearer token in `Authorization` (the runtime's JWT
    // authorizer on the service; here the configured tokens), and answer a refusal with its
    // code in a header and an empty body.
    let endpoint = parts
        .uri
        .path()
        .starts_with(crate::session_endpoint::PREFIX);
    let bearer = parts
        .headers
        .get("authorization")
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.strip_prefix("Bearer "));
    let missing = q("X-Amz-Signature").is_none()
        && parts.headers.get("authorization").is_none()
        && parts.headers.get("sec-websocket-protocol").is_none();
    // So do invocations, for a runtime whose inbound authorizer is a JWT authorizer.
    let invocation = parts.uri.path().starts_with("/runtimes/")
        && parts
            .uri
            .path()
            .trim_end_matches('/')
            .ends_with("/invocations");
    let result: Result<(), String> = if let (true, Some(token)) = (endpoint || invocation, bearer) {
        if v.bearer_tokens.iter().any(|b| constant_eq(b, token.trim())) {
            Ok(())
        } else {
            Err("the bearer token is not valid".to_owned())
        }
    } else if let Some(sig) = q("X-Amz-Signature") {
        // Presigned URL.
        (|| {
            let (access_key, region, service) =
                parse_credential(q("X-Amz-Credential").ok_or("no X-Amz-Credential")?)
                    .ok_or("malformed X-Amz-Credential")?;
            if service != "bedrock-agentcore" {
                return Err("wrong service in X-Amz-Credential".to_owned());
            }
            let time = q("X-Amz-Date")
                .and_then(parse_amz_date)
                .ok_or("bad X-Amz-Date")?;
            let expires: u64 = q("X-Amz-Expires")
                .and_then(|e| e.parse().ok())
                .ok_or("bad X-Amz-Expires")?;
            let limit = if parts.uri.path().ends_with("/ws/shells") {
                300
            } else {
                604_800
            };
            if expires > limit {
                return Err(format!("X-Amz-Expires {expires} exceeds {limit} s"));
            }
            let age = SystemTime::now().duration_since(time).unwrap_or_default();
            if age > Duration::from_secs(expires) {
                return Err("the presigned URL has expired".to_owned());
            }
            let claimed = Claimed {
                access_key,
                region,
                signed_headers: q("X-Amz-SignedHeaders")
                    .unwrap_or("host")
                    .split(';')
                    .map(str::to_owned)
                    .collect(),
                signature: sig.to_owned(),
                time,
            };
            let secret = v
                .keys
                .get(&claimed.access_key)
                .ok_or("unknown access key")?;
            // Re-sign the URL without its X-Amz-* parameters, as the client did.
            let kept: Vec<(String, String)> = query
                .iter()
                .filter(|(k, _)| !k.starts_with("X-Amz-"))
                .cloned()
                .collect();
            // Clients sign the Host they will send; some (the official Python SDK) sign the
            // host name without its port, which is the same on AWS (443). Both are accepted.
            let mut hosts = vec![host.clone()];
            if let Some((name, _port)) = host.rsplit_once(':')
                && !name.is_empty()
                && !name.ends_with(']')
            {
                hosts.push(name.to_owned());
            }
            for signed_host in &hosts {
                let mut unsigned = format!("http://{signed_host}{}", uri.path());
                if !kept.is_empty() {
                    let qs = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(kept.iter().cloned())
                        .finish();
                    unsigned.push('?');
                    unsigned.push_str(&qs);
                }
                let headers =
                    signed_header_values(&claimed.signed_headers, signed_host, &parts.headers);
                let expected = compute(
                    secret,
                    &claimed,
                    q("X-Amz-Security-Token"),
                    parts.method.as_str(),
                    &unsigned,
                    &headers,
                    &[],
                    Some(Duration::from_secs(expires)),
                )?;
                if constant_eq(&expected, &claimed.signature) {
                    return Ok(());
                }
            }
            Err("the presigned URL's signature does not match".to_owned())
        })()
    } else if let Some(auth) = parts
        .headers
        .get("authorization")
        .and_then(|a| a.to_str().ok())
    {
        (|| {
            let claimed = claimed_from_header(
                auth,
                parts
                    .headers
                    .get("x-amz-date")
                    .and_then(|d| d.to_str().ok()),
            )?;
            if !skew_ok(claimed.time) {
                return Err("the request time is too far from the server's".to_owned());
            }
            let secret = v
                .keys
                .get(&claimed.access_key)
                .ok_or("unknown access key")?;
            let headers = signed_header_values(&claimed.signed_headers, &host, &parts.headers);
            if headers.len() != claimed.signed_headers.len() {
                return Err("a signed header is missing from the request".to_owned());
            }
            let token = parts
                .headers
                .get("x-amz-security-token")
                .and_then(|t| t.to_str().ok());
            let url = format!("http://{host}{path_and_query}");
            let expected = compute(
                secret,
                &claimed,
                token,
                parts.method.as_str(),
                &url,
                &headers,
                &body,
                None,
            )?;
            if constant_eq(&expected, &claimed.signature) {
                Ok(())
            } else {
                Err(
                    "the request signature does not match the signature the server calculated"
                        .to_owned(),
                )
            }
        })()
    } else if let Some(protocols) = parts
        .headers
        .get("sec-websocket-protocol")
        .and_then(|p| p.to_str().ok())
    {
        let token = protocols
            .split(',')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("base64UrlBearerAuthorization."))
            .and_then(|t| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
            })
            .and_then(|t| String::from_utf8(t).ok());
        match token {
            Some(t) if v.bearer_tokens.iter().any(|b| constant_eq(b, &t)) => Ok(()),
            Some(_) => Err("the bearer token is not valid".to_owned()),
            None => Err("missing authentication".to_owned()),
        }
    } else {
        Err("missing authentication token".to_owned())
    };
    match result {
        Ok(()) => next.run(Request::from_parts(parts, Body::from(body))).await,
        Err(why) => {
            tracing::info!(%why, "request rejected by SigV4 verification");
            if endpoint {
                let (status, code) = if missing {
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        "AuthenticationRequired",
                    )
                } else {
                    (axum::http::StatusCode::FORBIDDEN, "AccessDenied")
                };
                let mut resp = status.into_response();
                resp.headers_mut().insert(
                    "x-amzn-errortype",
                    axum::http::HeaderValue::from_static(code),
                );
                return resp;
            }
            denied(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_of_any_bytes_never_panic() {
        assert!(parse_amz_date("20261121T133320Z").is_some());
        for bad in [
            "2026112é133320Z",
            "€€€€€€€€",
            "2026112\u{10FFFF}3320Z",
            "",
            "20261121T133320",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }
}
