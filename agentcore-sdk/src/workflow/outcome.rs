//! How a run or a contender ended, and why: the agent's result (passed, failed, agent
//! error) is told apart from failures of the plumbing around it (infrastructure errors), so
//! that a pass rate counts the agent's trials only.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ServiceErrorKind};

/// How a run ended: exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The check passed.
    #[serde(alias = "pass")]
    Passed,
    /// The agent's work was judged (the check ran) and failed.
    #[serde(alias = "fail")]
    Failed,
    /// The agent crashed or answered with an error (`RuntimeClientError`): a valid trial
    /// that did not pass.
    AgentError,
    /// Our plumbing failed — the session would not start, throttling, a 409, a 5xx, a cut
    /// stream, a timeout, a cancellation — so the agent was not judged. Not a trial: left out
    /// of pass rates, with its cause.
    #[serde(alias = "error")]
    InfraError,
}

impl Outcome {
    /// Whether the run is a trial of the agent (counted in pass rates).
    pub fn is_valid(self) -> bool {
        !matches!(self, Self::InfraError)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::AgentError => "agent_error",
            Self::InfraError => "infra_error",
        })
    }
}

/// Why a run ended in an error ([`Outcome::AgentError`] or [`Outcome::InfraError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// No error.
    #[default]
    None,
    /// 429 `ThrottlingException` (or a service quota) after the SDK's retries.
    Throttled,
    /// 409 `RetryableConflictException` / `ConflictException`: the session was in use.
    Conflict,
    /// 5xx from the service, or a response it could not have meant (garbled frames).
    ServerError,
    /// A response stream broke mid-way.
    CutStream,
    /// A connection could not be made.
    Connection,
    /// One of our own timeouts.
    Timeout,
    /// The service refused the request for good (validation, access, not found,
    /// credentials, a bad configuration).
    Rejected,
    /// The run was cancelled (by [`CancelHandle::cancel`](super::CancelHandle::cancel) or a
    /// wall-clock or cost budget) or never started for that reason.
    Cancelled,
    /// The session budget was spent.
    SessionBudget,
    /// A local file (the ledger) could not be written.
    LocalIo,
    /// The agent failed (`RuntimeClientError`: it crashed, or answered with an error).
    AgentFailed,
}

impl Cause {
    /// Whether the same work may succeed in a fresh session.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Throttled
                | Self::Conflict
                | Self::ServerError
                | Self::CutStream
                | Self::Connection
                | Self::Timeout
        )
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "",
            Self::Throttled => "throttled",
            Self::Conflict => "conflict",
            Self::ServerError => "server_error",
            Self::CutStream => "cut_stream",
            Self::Connection => "connection",
            Self::Timeout => "timeout",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::SessionBudget => "session_budget",
            Self::LocalIo => "local_io",
            Self::AgentFailed => "agent_failed",
        })
    }
}

/// Whose failure `error` is, and its cause: `RuntimeClientError` is the agent's, anything
/// else our plumbing's (a broken connection after the request went out is a cut stream).
pub fn classify(error: &Error) -> (Outcome, Cause) {
    use Outcome::{AgentError, InfraError};
    match error {
        Error::Service(e) => match e.kind() {
            ServiceErrorKind::RuntimeClient => (AgentError, Cause::AgentFailed),
            ServiceErrorKind::Throttling | ServiceErrorKind::ServiceQuotaExceeded => {
                (InfraError, Cause::Throttled)
            }
            ServiceErrorKind::RetryableConflict | ServiceErrorKind::Conflict => {
                (InfraError, Cause::Conflict)
            }
            ServiceErrorKind::InternalServer => (InfraError, Cause::ServerError),
            _ if e.status().is_some_and(|s| s >= 500) => (InfraError, Cause::ServerError),
            _ => (InfraError, Cause::Rejected),
        },
        Error::TruncatedStream { .. } => (InfraError, Cause::CutStream),
        Error::Transport { source, .. } => {
            let connect = source
                .downcast_ref::<reqwest::Error>()
                .is_some_and(|e| e.is_connect());
            if connect {
                (InfraError, Cause::Connection)
            } else {
                (InfraError, Cause::CutStream)
            }
        }
        Error::Timeout { .. } => (InfraError, Cause::Timeout),
        Error::MalformedResponse { .. } => (InfraError, Cause::ServerError),
        Error::Io { .. } => (InfraError, Cause::LocalIo),
        _ => (InfraError, Cause::Rejected),
    }
}

/// A pass rate over valid trials with its 95% Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PassRate {
    /// Trials that passed.
    pub passed: usize,
    /// Valid trials (passed, failed, agent errors).
    pub valid: usize,
    /// `passed / valid` (0 when there is none).
    pub rate: f64,
    /// Lower bound of the 95% Wilson interval.
    pub low: f64,
    /// Upper bound of the 95% Wilson interval.
    pub high: f64,
}

impl PassRate {
    /// `passed` of `valid` trials.
    pub fn new(passed: usize, valid: usize) -> Self {
        let (low, high) = wilson(passed, valid);
        Self {
            passed,
            valid,
            rate: if valid == 0 {
                0.0
            } else {
                passed as f64 / valid as f64
            },
            low,
            high,
        }
    }
}

/// The 95% Wilson score interval of `passed` successes in `n` trials (0..1 when `n` is 0).
pub fn wilson(passed: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n = n as f64;
    let p = (passed as f64 / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((center - half).max(0.0), (center + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    #[test]
    fn wilson_matches_known_values() {
        // 8 of 10: 0.490–0.943 (Wilson 1927; as in statsmodels' proportion_confint).
        let (lo, hi) = wilson(8, 10);
        assert!(
            (lo - 0.4902).abs() < 1e-3 && (hi - 0.9433).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 20);
        assert!(lo == 0.0 && (hi - 0.1611).abs() < 1e-3, "{lo} {hi}");
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }

    #[test]
    fn errors_are_told_apart() {
        let service = |k: ServiceErrorKind| Error::from(ServiceError::new(k, "x"));
        assert_eq!(
            classify(&service(ServiceErrorKind::RuntimeClient)),
            (Outcome::AgentError, Cause::AgentFailed)
        );
        assert_eq!(
            classify(&service(ServiceErrorKind::Throttling)).1,
            Cause::Throttled
        );
        assert_eq!(
            classify(&service(ServiceErrorKind::RetryableConflict)).1,
            Cause::Conflict
        );
        assert_eq!(
            classify(&service(ServiceErrorKind::AccessDenied)),
            (Outcome::InfraError, Cause::Rejected)
        );
        assert_eq!(
            classify(&Error::TruncatedStream {
                events: 1,
                source: None
            }),
            (Outcome::InfraError, Cause::CutStream)
        );
        assert!(Cause::CutStream.is_transient() && !Cause::Rejected.is_transient());
        assert!(Outcome::AgentError.is_valid() && !Outcome::InfraError.is_valid());
    }
}
