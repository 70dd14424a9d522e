//! SigV4 with `aws-sigv4`: header signing for REST calls and query-string presigning for
//! WebSocket URLs. Both planes sign as service `bedrock-agentcore`.

#[cfg(feature = "shell")]
use std::time::Duration;
use std::time::SystemTime;

use aws_credential_types::Credentials;
#[cfg(feature = "shell")]
use aws_sigv4::http_request::SignatureLocation;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::config::{ConfigInner, TimeoutConfig};
use crate::error::Error;

/// The SigV4 signing name of both planes.
pub(crate) const SIGNING_NAME: &str = "bedrock-agentcore";

/// Credentials from the provider, through the configuration's cache (single-flight, with
/// the credentials deadline of `timeouts`); `None` for an anonymous configuration.
pub(crate) async fn credentials(
    config: &ConfigInner,
    timeouts: &TimeoutConfig,
) -> Result<Option<Credentials>, Error> {
    let Some(provider) = &config.credentials else {
        return Ok(None);
    };
    config
        .credentials_cache
        .get(provider, timeouts.get_credentials())
        .await
        .map(Some)
}

/// Signs a request in place: adds `authorization`, `x-amz-date` and, for temporary
/// credentials, `x-amz-security-token`.
pub(crate) fn sign_headers(
    creds: &Credentials,
    region: &str,
    method: &str,
    url: &str,
    headers: &mut http::HeaderMap,
    body: &[u8],
) -> Result<(), Error> {
    let identity: Identity = creds.clone().into();
    let settings = SigningSettings::default();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| signing_error(e.to_string()))?
        .into();
    let header_pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        method,
        url,
        header_pairs.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| signing_error(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing_error(e.to_string()))?
        .into_parts();
    let (new_headers, _params) = instructions.into_parts();
    for h in new_headers {
        let value =
            http::HeaderValue::from_str(h.value()).map_err(|e| signing_error(e.to_string()))?;
        headers.insert(h.name(), value);
    }
    Ok(())
}

/// Presigns a GET of `url` with query-string SigV4 valid for `expires_in`; returns the URL
/// with `X-Amz-*` parameters appended. `headers` are signed too (the server must see them).
#[cfg(feature = "shell")]
pub(crate) fn presign_url(
    creds: &Credentials,
    region: &str,
    url: &url::Url,
    headers: &[(&str, &str)],
    expires_in: Duration,
    time: SystemTime,
) -> Result<url::Url, Error> {
    let identity: Identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SIGNING_NAME)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| signing_error(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| signing_error(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| signing_error(e.to_string()))?
        .into_parts();
    let (_headers, query) = instructions.into_parts();
    let mut out = url.clone();
    {
        let mut pairs = out.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, &v);
        }
    }
    Ok(out)
}

fn signing_error(message: String) -> Error {
    Error::Credentials {
        message: format!("signing failed: {message}"),
        source: None,
    }
}
