//! What keeps an experiment from leaving sessions billing: every session it starts is
//! tracked (and written to its [`Ledger`], when it has one) until its stop is acknowledged;
//! [`CancelHandle::cancel`] stops them all and returns once the stops are acknowledged;
//! [`Budget`]s end an experiment cleanly; dropping an experiment part-way still stops what it
//! can, and what it could not stop stays in the ledger for
//! [`ledger::stop_all`](super::ledger::stop_all).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ledger::Ledger;
use crate::error::{Error, ServiceErrorKind};
use crate::session::Session;

/// Limits that end an experiment cleanly: runs not started yet are reported as not run,
/// runs in flight are cancelled and their sessions stopped (wall clock, cost), or finish
/// without starting new sessions (sessions).
///
/// ```
/// use std::time::Duration;
/// use agentcore_sdk::workflow::Budget;
/// let budget = Budget::new().wall_clock(Duration::from_secs(3600)).max_cost(25.0).max_sessions(500);
/// assert_eq!(budget.get_max_sessions(), Some(500));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    wall_clock: Option<Duration>,
    cost: Option<f64>,
    sessions: Option<u64>,
}

impl Budget {
    /// No limit.
    pub fn new() -> Self {
        Self::default()
    }
    /// End the experiment this long after it started.
    pub fn wall_clock(mut self, d: Duration) -> Self {
        self.wall_clock = Some(d);
        self
    }
    /// End it once the estimated cost of its runs (the cost model's figure, retries
    /// included) reaches `cost`.
    pub fn max_cost(mut self, cost: f64) -> Self {
        self.cost = Some(cost);
        self
    }
    /// Start at most `n` sessions (retries included).
    pub fn max_sessions(mut self, n: u64) -> Self {
        self.sessions = Some(n);
        self
    }
    /// See [`Budget::wall_clock`].
    pub fn get_wall_clock(&self) -> Option<Duration> {
        self.wall_clock
    }
    /// See [`Budget::max_cost`].
    pub fn get_max_cost(&self) -> Option<f64> {
        self.cost
    }
    /// See [`Budget::max_sessions`].
    pub fn get_max_sessions(&self) -> Option<u64> {
        self.sessions
    }
}

/// Why a session could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The experiment was cancelled or ran out of budget; the reason.
    Closed(String),
    /// The session budget is spent.
    SessionBudget,
}

#[derive(Debug, Default)]
struct Live {
    closed: Option<String>,
    sessions: HashMap<String, Session>,
}

#[derive(Debug)]
struct Inner {
    live: Mutex<Live>,
    ledger: Mutex<Option<Ledger>>,
    token: CancellationToken,
    started: AtomicU64,
    /// `u64::MAX`: no limit.
    max_sessions: AtomicU64,
    /// Stops that were not acknowledged, with the error (the session stays in `live`).
    failed_stops: Mutex<HashMap<String, String>>,
}

/// The sessions of one experiment run. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    inner: Arc<Inner>,
}

impl Tracker {
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                live: Mutex::new(Live::default()),
                ledger: Mutex::new(None),
                token: CancellationToken::new(),
                started: AtomicU64::new(0),
                max_sessions: AtomicU64::new(u64::MAX),
                failed_stops: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Sets the ledger sessions are written to and the session budget (before the run).
    pub(crate) fn configure(&self, ledger: Option<Ledger>, max_sessions: Option<u64>) {
        if let Ok(mut l) = self.inner.ledger.lock() {
            *l = ledger;
        }
        self.inner
            .max_sessions
            .store(max_sessions.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    fn ledger(&self) -> Option<Ledger> {
        self.inner.ledger.lock().ok()?.clone()
    }

    /// Cancelled when the experiment is closed (cancel, budget).
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.inner.token
    }

    /// Why the experiment was closed, if it was.
    pub(crate) fn closed(&self) -> Option<String> {
        self.inner.live.lock().ok()?.closed.clone()
    }

    /// Sessions started so far.
    pub(crate) fn sessions_started(&self) -> u64 {
        self.inner.started.load(Ordering::SeqCst)
    }

    /// Closes the experiment: no session starts from now on, and everything waiting on the
    /// token is cancelled. The first reason stays.
    pub(crate) fn close(&self, reason: impl Into<String>) {
        if let Ok(mut live) = self.inner.live.lock()
            && live.closed.is_none()
        {
            live.closed = Some(reason.into());
        }
        self.inner.token.cancel();
    }

    /// Registers `session` before its first request (and writes it to the ledger, durably).
    pub(crate) async fn start(&self, session: &Session) -> Result<(), StartError> {
        {
            let mut live = self
                .inner
                .live
                .lock()
                .map_err(|_| StartError::Refused(Refused::Closed("poisoned".into())))?;
            if let Some(why) = &live.closed {
                return Err(StartError::Refused(Refused::Closed(why.clone())));
            }
            if self.inner.started.load(Ordering::SeqCst)
                >= self.inner.max_sessions.load(Ordering::SeqCst)
            {
                return Err(StartError::Refused(Refused::SessionBudget));
            }
            self.inner.started.fetch_add(1, Ordering::SeqCst);
            live.sessions
                .insert(session.id().as_str().to_owned(), session.clone());
        }
        if let Some(ledger) = self.ledger()
            && let Err(e) = ledger.record_started(session).await
        {
            // Not in the ledger: it must not start at all.
            self.forget(session);
            return Err(StartError::Ledger(e));
        }
        Ok(())
    }

    fn forget(&self, session: &Session) {
        if let Ok(mut live) = self.inner.live.lock() {
            live.sessions.remove(session.id().as_str());
        }
    }

    /// Keeps `session` running: it is no longer the experiment's to stop (a kept winner). It
    /// stays "not stopped" in the ledger.
    pub(crate) fn release(&self, session: &Session) {
        self.forget(session);
    }

    /// Stops `session` until the service acknowledges it; `false` (and the session stays
    /// tracked, for a later try and the report) when it could not.
    pub(crate) async fn stop(&self, session: &Session) -> bool {
        match stop_acknowledged(session).await {
            Ok(()) => {
                self.forget(session);
                if let Ok(mut f) = self.inner.failed_stops.lock() {
                    f.remove(session.id().as_str());
                }
                if let Some(ledger) = self.ledger()
                    && let Err(e) = ledger.record_stopped(session).await
                {
                    tracing::warn!(session = %session.id(), error = %e, "cannot record an acknowledged stop in the ledger");
                }
                true
            }
            Err(e) => {
                tracing::warn!(session = %session.id(), error = %e, "a session could not be stopped");
                if let Ok(mut f) = self.inner.failed_stops.lock() {
                    f.insert(session.id().as_str().to_owned(), e.to_string());
                }
                false
            }
        }
    }

    /// Sessions started and not stopped.
    pub(crate) fn live(&self) -> Vec<Session> {
        self.inner
            .live
            .lock()
            .map(|l| l.sessions.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops every session still tracked (all at once); the ids of those that could not be.
    pub(crate) async fn stop_live(&self) -> Vec<String> {
        let live = self.live();
        let stops = live.iter().map(|s| async move { (s, self.stop(s).await) });
        futures::future::join_all(stops)
            .await
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(s, _)| s.id().as_str().to_owned())
            .collect()
    }

    /// A guard that, dropped, stops whatever is still tracked (best effort: on the current
    /// tokio runtime, which may be shutting down; the ledger keeps what it could not stop).
    pub(crate) fn drop_guard(&self) -> DropGuard {
        DropGuard(Some(self.clone()))
    }

    pub(crate) fn handle(&self) -> CancelHandle {
        CancelHandle {
            tracker: self.clone(),
        }
    }
}

/// Why [`Tracker::start`] did not start a session.
#[derive(Debug)]
pub(crate) enum StartError {
    Refused(Refused),
    Ledger(Error),
}

/// Stops `session` and retries until the service acknowledges it: throttling, 5xx,
/// `RetryableConflictException` (after the transport's own retries) and broken connections
/// are retried with backoff (8 tries over about 25 s); a session the service does not know
/// counts as stopped.
pub(crate) async fn stop_acknowledged(session: &Session) -> Result<(), Error> {
    let mut delay = Duration::from_millis(100);
    let mut tries = 0u32;
    loop {
        tries = tries.saturating_add(1);
        match session.stop().await {
            Ok(_) => return Ok(()),
            Err(Error::Service(e)) if *e.kind() == ServiceErrorKind::ResourceNotFound => {
                return Ok(());
            }
            Err(e) => {
                let transient = e.is_retryable()
                    || matches!(e, Error::Transport { .. } | Error::Timeout { .. });
                if !transient || tries >= 8 {
                    return Err(e);
                }
                tracing::debug!(session = %session.id(), error = %e, "stop not acknowledged yet; retrying");
                tokio::time::sleep(delay.mul_f64(0.75 + fastrand::f64() * 0.5)).await;
                delay = delay.saturating_mul(2).min(Duration::from_secs(8));
            }
        }
    }
}

/// Stops the tracked sessions when dropped (see [`Tracker::drop_guard`]).
#[derive(Debug)]
pub(crate) struct DropGuard(Option<Tracker>);

impl DropGuard {
    /// The experiment ended normally: nothing to do on drop.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        let Some(tracker) = self.0.take() else { return };
        tracker.close("dropped");
        let live = tracker.live();
        if live.is_empty() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                sessions = live.len(),
                "experiment dropped outside a tokio runtime: its sessions were not stopped (see its ledger)"
            );
            return;
        };
        tracing::debug!(
            sessions = live.len(),
            "experiment dropped: stopping its sessions"
        );
        handle.spawn(async move {
            tracker.stop_live().await;
        });
    }
}

/// Cancels a running experiment from elsewhere (a Ctrl-C handler): see
/// [`Bench::cancel_handle`](super::bench::Bench::cancel_handle) and
/// [`Race::cancel_handle`](super::race::Race::cancel_handle). Cheap to clone.
#[derive(Debug, Clone)]
pub struct CancelHandle {
    tracker: Tracker,
}

impl CancelHandle {
    /// Stops the experiment: no new session starts, work in flight is cancelled, and every
    /// session it started is stopped. Returns once the service acknowledged the stops (or
    /// they failed after retries: their ids are returned, and they stay "not stopped" in
    /// the ledger). The experiment's own future then returns its report. Calling it again is
    /// harmless.
    ///
    /// Dropping the future part-way leaves the stops it sent to finish on their own.
    pub async fn cancel(&self) -> Vec<String> {
        self.tracker.close("cancelled");
        self.tracker.stop_live().await
    }

    /// Whether the experiment was cancelled or ended by a budget.
    pub fn is_cancelled(&self) -> bool {
        self.tracker.token().is_cancelled()
    }
}
