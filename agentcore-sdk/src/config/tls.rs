//! TLS for HTTPS calls and WSS connections alike: rustls with the `ring` provider, Mozilla's
//! root certificates (`webpki-roots`) plus any added with
//! [`ConfigBuilder::add_root_certificate`](crate::ConfigBuilder::add_root_certificate).

use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::error::Error;

fn base(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let (_, unusable) = roots.add_parsable_certificates(extra.iter().cloned());
    if unusable > 0 {
        return Err(Error::Config(format!(
            "add_root_certificate: {unusable} certificate(s) cannot be used as a trust root"
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The HTTPS configuration (ALPN `h2`, `http/1.1`).
pub(crate) fn http(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, Error> {
    let mut c = base(extra)?;
    c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(c)
}

/// The WSS configuration (a WebSocket upgrade is HTTP/1.1: no ALPN).
#[cfg(feature = "shell")]
pub(crate) fn websocket(
    extra: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, Error> {
    base(extra).map(Arc::new)
}
