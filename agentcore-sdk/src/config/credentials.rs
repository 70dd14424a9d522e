//! The credentials of one client configuration, cached until shortly before they expire and
//! loaded single-flight with a deadline, as smithy's identity cache does: however many
//! requests need credentials at once, the provider is asked once, and a provider that does not
//! answer fails those requests at the deadline instead of stalling them (and every clone of
//! the client) forever.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::error::Error;

/// Refresh cached credentials this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Why a load failed, shareable between every caller waiting for it.
#[derive(Debug, Clone)]
enum LoadError {
    Provider(Arc<aws_credential_types::provider::error::CredentialsError>),
    Timeout(Duration),
}

impl LoadError {
    fn to_error(&self) -> Error {
        match self {
            Self::Provider(e) => Error::Credentials {
                message: "the credentials provider failed".into(),
                source: Some(Box::new(SharedSource(e.clone()))),
            },
            Self::Timeout(after) => Error::Credentials {
                message: format!("the credentials provider did not answer within {after:?}"),
                source: None,
            },
        }
    }
}

/// A provider error shared by the callers of one load.
#[derive(Debug)]
struct SharedSource(Arc<aws_credential_types::provider::error::CredentialsError>);

impl std::fmt::Display for SharedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedSource {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

type Load = Shared<BoxFuture<'static, Result<Credentials, LoadError>>>;

#[derive(Default)]
struct State {
    cached: Option<Credentials>,
    /// The load in flight, shared by every caller that needs it.
    loading: Option<Load>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct CredentialsCache {
    state: Mutex<State>,
}

fn expires_within(c: &Credentials, margin: Duration) -> bool {
    c.expiry().is_some_and(|exp| {
        SystemTime::now()
            .checked_add(margin)
            .is_none_or(|soon| exp <= soon)
    })
}

impl CredentialsCache {
    /// Credentials from the cache, or from one load of `provider` shared with every
    /// concurrent caller and bounded by `deadline`. When a refresh fails or times out,
    /// credentials that have not expired yet are still used.
    ///
    /// Dropping the future leaves the load to the other callers (a later caller joins it).
    pub(crate) async fn get(
        &self,
        provider: &SharedCredentialsProvider,
        deadline: Duration,
    ) -> Result<Credentials, Error> {
        let (still_valid, load) = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(c) = &state.cached
                && !expires_within(c, REFRESH_MARGIN)
            {
                return Ok(c.clone());
            }
            let load = match &state.loading {
                Some(l) => l.clone(),
                None => {
                    let provider = provider.clone();
                    let l = async move {
                        match tokio::time::timeout(deadline, provider.provide_credentials()).await {
                            Ok(Ok(c)) => Ok(c),
                            Ok(Err(e)) => Err(LoadError::Provider(Arc::new(e))),
                            Err(_) => Err(LoadError::Timeout(deadline)),
                        }
                    }
                    .boxed()
                    .shared();
                    state.loading = Some(l.clone());
                    l
                }
            };
            let still_valid = state
                .cached
                .clone()
                .filter(|c| !expires_within(c, Duration::ZERO));
            (still_valid, load)
        };
        let result = load.clone().await;
        {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.loading.as_ref().is_some_and(|l| l.ptr_eq(&load)) {
                state.loading = None;
                if let Ok(c) = &result {
                    state.cached = Some(c.clone());
                }
            }
        }
        match result {
            Ok(c) => Ok(c),
            Err(e) => {
                if let Some(c) = still_valid {
                    tracing::warn!(error = %e.to_error(), "refreshing credentials failed; using the ones not expired yet");
                    return Ok(c);
                }
                Err(e.to_error())
            }
        }
    }
}
