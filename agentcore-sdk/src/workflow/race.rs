//! *Race* — who fixes it first? N contenders get the same task at once, each in its own
//! session; the first whose check passes wins and every other contender is cancelled at
//! once: its in-flight invocation and command streams are dropped and its session stopped.
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
//! use agentcore_sdk::workflow::race::{Contender, Race};
//! let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abc123";
//! let report = Race::builder(&client)
//!     .contender("claude", arn)
//!     .contender_with(Contender::new("gpt", arn)?.json(&serde_json::json!({"model": "gpt"}))?)
//!     .task_json(&serde_json::json!({"issue": "tests fail in calc.sh"}))?
//!     .check("cd /mnt/workspace/repo && ./test.sh")
//!     .attempts(3)
//!     .run()
//!     .await?;
//! match &report.winner {
//!     Some(w) => println!("{w} won after {:?}", report.time_to_winner),
//!     None => println!("nobody fixed it"),
//! }
//! # Ok(()) }
//! ```
//!
//! Contenders hit by an infrastructure error before their agent answered anything start
//! again in a fresh session ([`Race::infra_attempts`]); each ends as won, lost, an agent
//! error, an infrastructure error (with its cause) or cancelled.
//!
//! [`Race::cancel_handle`] stops a race and waits for the stops; dropping the future
//! returned by [`Race::run`] part-way stops every session it started (best effort, on the
//! current tokio runtime; a [`Race::ledger`] keeps what it could not stop for
//! [`stop_all`](super::ledger::stop_all)).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde::Serialize;

use super::bench::read_reply;
use super::harbor::SweBenchPrediction;
use super::ledger::Ledger;
use super::lifecycle::{CancelHandle, Refused, StartError, Tracker};
use super::outcome::{Cause, Outcome as RunOutcome, classify};
use crate::client::Client;
use crate::data::CommandRateLimiter;
use crate::error::{Deferred, Error};
use crate::session::Session;
use crate::types::Command;
use crate::types::{IntoRuntimeArn, RuntimeArn, SessionId};

/// An async hook run on a contender's session (see [`Race::setup`]).
pub(crate) type SessionHook =
    Arc<dyn Fn(Session) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

pub(crate) fn hook<F, Fut>(f: F) -> SessionHook
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Arc::new(move |s| f(s).boxed())
}

/// One entrant of a race: a runtime (and endpoint), optionally with its own payload — the
/// agent configuration (harness, model, prompt) that makes it differ from the others.
#[derive(Clone)]
pub struct Contender {
    name: String,
    arn: RuntimeArn,
    qualifier: Option<String>,
    payload: Option<Bytes>,
}

impl fmt::Debug for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload is user data (prompts, configuration): only its size is shown.
        f.debug_struct("Contender")
            .field("name", &self.name)
            .field("arn", &self.arn)
            .field("qualifier", &self.qualifier)
            .field("payload_bytes", &self.payload.as_ref().map(Bytes::len))
            .finish()
    }
}

impl Contender {
    /// A contender named `name` on the runtime `arn`.
    pub fn new(name: impl Into<String>, arn: impl IntoRuntimeArn) -> Result<Self, Error> {
        Ok(Self {
            name: name.into(),
            arn: arn.into_runtime_arn()?,
            qualifier: None,
            payload: None,
        })
    }

    /// Its own payload, instead of the race's task.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// Its own payload as JSON, instead of the race's task.
    pub fn json(self, value: &impl Serialize) -> Result<Self, Error> {
        let body = serde_json::to_vec(value).map_err(|e| Error::InvalidInput {
            field: "payload",
            rule: format!("cannot be serialized as JSON: {e}"),
        })?;
        Ok(self.payload(body))
    }

    /// Calls go to this endpoint instead of `DEFAULT`.
    pub fn qualifier(mut self, qualifier: impl Into<String>) -> Self {
        self.qualifier = Some(qualifier.into());
        self
    }

    /// The contender's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn arn(&self) -> &RuntimeArn {
        &self.arn
    }

    pub(crate) fn qualifier_ref(&self) -> Option<&str> {
        self.qualifier.as_deref()
    }

    pub(crate) fn payload_or_empty(&self) -> Bytes {
        self.payload.clone().unwrap_or_default()
    }
}

/// Where a contender is, reported to [`Race::on_update`] as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RacePhase {
    /// Running the setup hook in its new session.
    Setup,
    /// Waiting for the agent's answer (1-based attempt).
    Invoking(usize),
    /// Running the check (1-based attempt).
    Checking(usize),
    /// Its check failed (1-based attempt); it tries again if attempts are left.
    CheckFailed(usize),
    /// An infrastructure error came before its agent answered: it starts again in a fresh
    /// session (1-based session number of the new try).
    Retrying(u32),
    /// Finished with a result; see [`ContenderStatus`].
    Finished(ContenderStatus),
    /// Its session was stopped.
    SessionStopped,
}

/// A progress report: contender `contender` reached `phase` at `elapsed` from the start.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RaceUpdate {
    /// The contender's index, in the order they were added.
    pub index: usize,
    /// The contender's name.
    pub contender: String,
    /// What happened.
    pub phase: RacePhase,
    /// Time since the race started.
    pub elapsed: Duration,
}

/// How a contender ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContenderStatus {
    /// Its check passed first.
    Won,
    /// Its agent's work was judged and failed: its check still failed after every attempt.
    Lost,
    /// Its agent crashed or answered with an error (`RuntimeClientError`).
    AgentError,
    /// Our plumbing failed (session start, throttling, 409, 5xx, cut stream, timeout) and
    /// retries did not help, or the agent had already worked; see its cause.
    InfraError,
    /// It was still working when the winner was declared (or the race timed out, or was
    /// cancelled or dropped) and was cancelled.
    Cancelled,
}

impl fmt::Display for ContenderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Won => "won",
            Self::Lost => "lost",
            Self::AgentError => "agent_error",
            Self::InfraError => "infra_error",
            Self::Cancelled => "cancelled",
        })
    }
}

/// One contender's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ContenderReport {
    /// The contender's name.
    pub name: String,
    /// The session it ran in (stopped unless it is the winner's, kept on request).
    pub session_id: String,
    /// How it ended.
    pub status: ContenderStatus,
    /// Time from the start of the race to its end (or its cancellation).
    #[serde(serialize_with = "ser_ms")]
    pub elapsed: Duration,
    /// Agent invocations it made.
    pub attempts: usize,
    /// The last lines of its last check's output.
    pub check_tail: String,
    /// The error that ended it, for an agent or infrastructure error.
    pub error: Option<String>,
    /// Why, for an agent or infrastructure error.
    pub cause: Cause,
    /// Sessions it took (more than 1 after infrastructure errors before its agent answered).
    pub tries: u32,
    /// Whether its session was stopped (or was already gone) at the end.
    pub session_stopped: bool,
}

/// Everything a race did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RaceReport {
    /// The winner's name, if any contender's check passed.
    pub winner: Option<String>,
    /// Time from the start to the winner's passing check.
    #[serde(serialize_with = "ser_opt_ms")]
    pub time_to_winner: Option<Duration>,
    /// Time from the win (or the end) until every other session was stopped.
    #[serde(serialize_with = "ser_ms")]
    pub stop_time: Duration,
    /// One entry per contender, in the order they were added.
    pub contenders: Vec<ContenderReport>,
    /// How many sessions were stopped.
    pub sessions_stopped: usize,
    /// The winner's pushed commit, when [`Race::push_winner`] was set.
    pub pushed: Option<String>,
    /// Why the push failed, when it did (the race result stands).
    pub push_error: Option<String>,
    /// The winner's changes as a unified diff, when [`Race::winner_diff`] was set.
    pub winner_patch: Option<String>,
    /// Why the race ended without a result (cancelled), if it did.
    pub ended_early: Option<String>,
    /// Sessions whose stop was never acknowledged (they stay "not stopped" in the ledger).
    pub sessions_not_stopped: Vec<String>,
}

impl RaceReport {
    /// The winner's entry.
    pub fn winner(&self) -> Option<&ContenderReport> {
        self.contenders
            .iter()
            .find(|c| c.status == ContenderStatus::Won)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The winner's diff as a SWE-bench prediction for `instance_id`, made by the winner
    /// (needs [`Race::winner_diff`]).
    pub fn swe_bench_prediction(&self, instance_id: &str) -> Option<SweBenchPrediction> {
        Some(SweBenchPrediction::new(
            instance_id,
            self.winner.clone()?,
            self.winner_patch.clone()?,
        ))
    }

    /// A plain-text table, one row per contender, and a summary line.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<16}  {:<10}  {:>9}  {:>8}  {}\n",
            "contender", "status", "time", "attempts", "detail"
        );
        for c in &self.contenders {
            // The error, else the check's first failure line, else its last line.
            let detail = c
                .error
                .clone()
                .or_else(|| {
                    let mut lines = c.check_tail.lines().filter(|l| !l.trim().is_empty());
                    let last = lines.clone().next_back();
                    lines
                        .find(|l| {
                            let l = l.trim_start().to_ascii_lowercase();
                            l.starts_with("fail") || l.starts_with("error")
                        })
                        .or(last)
                        .map(str::to_owned)
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<16}  {:<10}  {:>7.0}ms  {:>8}  {}\n",
                c.name,
                c.status.to_string(),
                c.elapsed.as_secs_f64() * 1000.0,
                c.attempts,
                detail
            ));
        }
        match (&self.winner, self.time_to_winner) {
            (Some(w), Some(t)) => out.push_str(&format!(
                "winner: {w} after {:.0} ms · {} sessions stopped in {:.0} ms\n",
                t.as_secs_f64() * 1000.0,
                self.sessions_stopped,
                self.stop_time.as_secs_f64() * 1000.0
            )),
            _ => out.push_str(&format!(
                "no winner · {} sessions stopped\n",
                self.sessions_stopped
            )),
        }
        out
    }
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

fn ser_opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_secs_f64() * 1000.0)),
        None => s.serialize_none(),
    }
}

type UpdateFn = Arc<dyn Fn(&RaceUpdate) + Send + Sync>;

/// A race between contenders. See the [module documentation](self).
#[derive(Clone)]
pub struct Race {
    client: Client,
    contenders: Vec<Contender>,
    task: Bytes,
    check: Option<Command>,
    attempts: usize,
    setup: Option<SessionHook>,
    push: Option<(String, String, String)>,
    keep_winner_session: bool,
    timeout: Option<Duration>,
    limiter: Option<Arc<CommandRateLimiter>>,
    infra_attempts: u32,
    diff_repo: Option<String>,
    ledger: Option<Ledger>,
    tracker: Tracker,
    on_update: Option<UpdateFn>,
    error: Option<Deferred>,
}

impl fmt::Debug for Race {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Race")
            .field("contenders", &self.contenders)
            .field("task_bytes", &self.task.len())
            .field("check", &self.check)
            .field("attempts", &self.attempts)
            .field("push", &self.push)
            .field("keep_winner_session", &self.keep_winner_session)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What one contender's work came to.
enum Outcome {
    Passed { attempts: usize, tail: String },
    CheckFailed { attempts: usize, tail: String },
    Failed { attempts: usize, error: Error },
    NotStarted { cause: Cause, why: String },
}

impl Race {
    /// An empty race: add contenders, a task and a check. One attempt, 3 sessions per
    /// contender for infrastructure errors, no timeout, the client's command limiter of each
    /// runtime (the service's 25 commands/s, shared with every experiment on the client).
    pub fn builder(client: &Client) -> Self {
        Self {
            client: client.clone(),
            contenders: Vec::new(),
            task: Bytes::new(),
            check: None,
            attempts: 1,
            setup: None,
            push: None,
            keep_winner_session: false,
            timeout: None,
            limiter: None,
            infra_attempts: 3,
            diff_repo: None,
            ledger: None,
            tracker: Tracker::new(),
            on_update: None,
            error: None,
        }
    }

    /// Adds a contender on the runtime `arn` that gets the race's task.
    pub fn contender(self, name: impl Into<String>, arn: impl IntoRuntimeArn) -> Self {
        match Contender::new(name, arn) {
            Ok(c) => self.contender_with(c),
            Err(e) => self.fail(e),
        }
    }

    /// Adds a contender with its own endpoint or payload.
    pub fn contender_with(mut self, contender: Contender) -> Self {
        self.contenders.push(contender);
        self
    }

    /// The payload every contender's agent is invoked with (unless it has its own).
    pub fn task(mut self, payload: impl Into<Bytes>) -> Self {
        self.task = payload.into();
        self
    }

    /// The task as JSON.
    pub fn task_json(self, value: &impl Serialize) -> Result<Self, Error> {
        let body = serde_json::to_vec(value).map_err(|e| Error::InvalidInput {
            field: "task",
            rule: format!("cannot be serialized as JSON: {e}"),
        })?;
        Ok(self.task(body))
    }

    /// The check, run as a command in the contender's session after each invocation; exit
    /// code 0 within its timeout is a pass. Required.
    pub fn check(mut self, command: impl Into<Command>) -> Self {
        self.check = Some(command.into());
        self
    }

    /// How many invoke → check rounds a contender gets (default 1, at least 1).
    pub fn attempts(mut self, n: usize) -> Self {
        self.attempts = n.max(1);
        self
    }

    /// Runs `f` on each contender's new session before its first invocation (clone the
    /// repository, seed files). An error fails that contender only.
    pub fn setup<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.setup = Some(hook(f));
        self
    }

    /// After the win, the winner commits everything in `repo` and pushes `refspec` to
    /// `remote` (see [`GitRepo`](crate::workflow::GitRepo)).
    pub fn push_winner(
        mut self,
        repo: impl Into<String>,
        remote: impl Into<String>,
        refspec: impl Into<String>,
    ) -> Self {
        self.push = Some((repo.into(), remote.into(), refspec.into()));
        self
    }

    /// Keep the winner's session running (default `false`: every session is stopped; its
    /// session storage stays and the session can be resumed by id).
    pub fn keep_winner_session(mut self, keep: bool) -> Self {
        self.keep_winner_session = keep;
        self
    }

    /// Give up when nobody has won after `d`: everyone still working is cancelled.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// At most `n` command starts per second for this race: it can only lower the client's
    /// shared limiter of each runtime (the service's 25 per second).
    pub fn commands_per_second(mut self, n: u32) -> Self {
        self.limiter = Some(Arc::new(CommandRateLimiter::per_second(n)));
        self
    }

    /// Also wait on this limiter (it can only lower the rate).
    pub fn rate_limiter(mut self, limiter: Arc<CommandRateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Sessions a contender may take (default 3, at least 1): an infrastructure error before
    /// its agent answered anything starts it again in a fresh session.
    pub fn infra_attempts(mut self, n: u32) -> Self {
        self.infra_attempts = n.max(1);
        self
    }

    /// After the win, record the winner's changes in `repo` against its `HEAD` as a unified
    /// diff ([`RaceReport::winner_patch`], [`RaceReport::swe_bench_prediction`]); taken before
    /// [`push_winner`](Self::push_winner) commits.
    pub fn winner_diff(mut self, repo: impl Into<String>) -> Self {
        self.diff_repo = Some(repo.into());
        self
    }

    /// Records every session the race starts, and whether its stop was acknowledged, in
    /// `ledger` (see [`ledger`](super::ledger)).
    pub fn ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Some(ledger.for_experiment("race"));
        self
    }

    /// A handle that cancels the running race: every session stopped (acknowledged) before
    /// [`CancelHandle::cancel`] returns, then [`run`](Self::run) returns its report, the
    /// contenders still at work cancelled.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.tracker.handle()
    }

    /// Called on every step of every contender (for a live board). Keep it quick: it runs
    /// on the race's task.
    pub fn on_update(mut self, f: impl Fn(&RaceUpdate) + Send + Sync + 'static) -> Self {
        self.on_update = Some(Arc::new(f));
        self
    }

    fn fail(mut self, e: Error) -> Self {
        if self.error.is_none() {
            self.error = Some(e.into());
        }
        self
    }

    /// Runs the race. Errors only for a race that cannot start (no contender, no check, an
    /// invalid ARN); what happens to each contender is in the report.
    ///
    /// Dropping the future part-way stops every session the race started (best effort, on
    /// the current tokio runtime): in-flight invocations and commands are dropped; what could
    /// not be stopped stays in the [`ledger`](Self::ledger). A kept winner is never stopped.
    #[allow(
        clippy::indexing_slicing,
        reason = "indices come from 0..contenders.len(), and every vector indexed here (contenders, current, ended, tries, sessions) has exactly that length"
    )]
    pub async fn run(self) -> Result<RaceReport, Error> {
        if let Some(e) = self.error.clone() {
            return Err(e.into());
        }
        if self.contenders.is_empty() {
            return Err(Error::InvalidInput {
                field: "contenders",
                rule: "a race needs at least one contender".into(),
            });
        }
        let check = self.check.clone().ok_or_else(|| Error::InvalidInput {
            field: "check",
            rule: "a race needs a check command".into(),
        })?;
        let started = Instant::now();
        self.tracker.configure(self.ledger.clone(), None);
        // From here on, dropping this future stops every session.
        let guard = self.tracker.drop_guard();
        let n = self.contenders.len();
        let current: Vec<Mutex<Option<Session>>> = (0..n).map(|_| Mutex::new(None)).collect();
        let sessions_taken: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        let notify = |index: usize, phase: RacePhase| {
            if let Some(f) = &self.on_update {
                f(&RaceUpdate {
                    index,
                    contender: self.contenders[index].name.clone(),
                    phase,
                    elapsed: started.elapsed(),
                });
            }
        };
        let mut ended: Vec<Option<(ContenderStatus, Outcome, Duration)>> =
            (0..n).map(|_| None).collect();
        let mut winner: Option<usize> = None;
        let tries: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        {
            let mut running: FuturesUnordered<_> = (0..n)
                .map(|i| {
                    let payload = self.contenders[i]
                        .payload
                        .clone()
                        .unwrap_or_else(|| self.task.clone());
                    self.contend(
                        i,
                        &current[i],
                        &sessions_taken[i],
                        payload,
                        check.clone(),
                        &tries[i],
                        &notify,
                    )
                    .map(move |o| (i, o))
                })
                .collect();
            let deadline = async {
                match self.timeout {
                    Some(d) => tokio::time::sleep(d).await,
                    None => futures::future::pending().await,
                }
            };
            tokio::pin!(deadline);
            loop {
                let next = tokio::select! {
                    n = running.next() => n,
                    () = &mut deadline => None,
                    () = self.tracker.token().cancelled() => None,
                };
                let Some((i, outcome)) = next else { break };
                let status = match &outcome {
                    Outcome::Passed { .. } => ContenderStatus::Won,
                    Outcome::CheckFailed { .. } => ContenderStatus::Lost,
                    Outcome::Failed { error, .. } => match classify(error).0 {
                        RunOutcome::AgentError => ContenderStatus::AgentError,
                        _ => ContenderStatus::InfraError,
                    },
                    Outcome::NotStarted { cause, .. } if *cause == Cause::Cancelled => {
                        ContenderStatus::Cancelled
                    }
                    Outcome::NotStarted { .. } => ContenderStatus::InfraError,
                };
                notify(i, RacePhase::Finished(status));
                ended[i] = Some((status, outcome, started.elapsed()));
                if status == ContenderStatus::Won {
                    winner = Some(i);
                    break;
                }
            }
            // Dropping `running` cancels every invocation and command still in flight.
        }
        let time_to_winner = winner.map(|_| started.elapsed());
        let win_instant = Instant::now();
        for (i, e) in ended.iter().enumerate() {
            if e.is_none() {
                notify(i, RacePhase::Finished(ContenderStatus::Cancelled));
            }
        }
        let session_of = |i: usize| current[i].lock().ok().and_then(|s| s.clone());
        let winner_session = winner.and_then(session_of);
        if self.keep_winner_session
            && let Some(w) = &winner_session
        {
            // Not the race's to stop any more, even if the race is dropped during the push.
            self.tracker.release(w);
        }
        // Stop everyone but the winner at once.
        let others: Vec<Session> = self
            .tracker
            .live()
            .into_iter()
            .filter(|s| winner_session.as_ref().is_none_or(|w| w.id() != s.id()))
            .collect();
        futures::future::join_all(others.iter().map(|s| self.tracker.stop(s))).await;
        for i in 0..n {
            if Some(i) != winner {
                notify(i, RacePhase::SessionStopped);
            }
        }
        let stop_time = win_instant.elapsed();
        let (mut pushed, mut push_error, mut winner_patch) = (None, None, None);
        if let (Some(w), Some(session)) = (winner, &winner_session) {
            if let Some(repo) = &self.diff_repo {
                let diff = session
                    .run(format!(
                        "cd {} && git add -A && git diff --cached --binary HEAD",
                        Command::quote(repo)
                    ))
                    .await
                    .and_then(crate::data::CommandOutput::check);
                match diff {
                    Ok(out) => winner_patch = Some(out.stdout),
                    Err(e) => push_error = Some(format!("diff: {e}")),
                }
            }
            if let Some((repo, remote, refspec)) = &self.push {
                let git = session.git(repo.clone());
                match async {
                    let sha = git.commit_all("fix from the race winner").await?;
                    git.push(remote, refspec).await?;
                    match sha {
                        Some(s) => Ok(s),
                        None => git.head().await,
                    }
                }
                .await
                {
                    Ok(sha) => pushed = Some(sha),
                    Err(e) => push_error = Some(e.to_string()),
                }
            }
            if !self.keep_winner_session {
                self.tracker.stop(session).await;
                notify(w, RacePhase::SessionStopped);
            }
        }
        let sessions_not_stopped = self.tracker.stop_live().await;
        guard.disarm();
        let live_now: Vec<String> = sessions_not_stopped.clone();
        let contenders: Vec<ContenderReport> = self
            .contenders
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (status, outcome, elapsed) = match ended[i].take() {
                    Some((st, o, t)) => (st, Some(o), t),
                    None => (
                        ContenderStatus::Cancelled,
                        None,
                        win_instant.saturating_duration_since(started),
                    ),
                };
                let (attempts, check_tail, error, cause) = match outcome {
                    Some(Outcome::Passed { attempts, tail })
                    | Some(Outcome::CheckFailed { attempts, tail }) => {
                        (attempts, tail, None, Cause::None)
                    }
                    Some(Outcome::Failed { attempts, error }) => {
                        let cause = classify(&error).1;
                        (attempts, String::new(), Some(error.to_string()), cause)
                    }
                    Some(Outcome::NotStarted { cause, why }) => {
                        (0, String::new(), Some(why), cause)
                    }
                    None => (
                        tries[i].load(Ordering::Relaxed),
                        String::new(),
                        None,
                        Cause::Cancelled,
                    ),
                };
                let session = session_of(i);
                let session_id = session
                    .as_ref()
                    .map(|s| s.id().as_str().to_owned())
                    .unwrap_or_default();
                let kept = Some(i) == winner && self.keep_winner_session;
                ContenderReport {
                    name: c.name.clone(),
                    session_stopped: session.is_some() && !kept && !live_now.contains(&session_id),
                    session_id,
                    status,
                    elapsed,
                    attempts,
                    check_tail,
                    error,
                    cause,
                    tries: u32::try_from(sessions_taken[i].load(Ordering::Relaxed))
                        .unwrap_or(u32::MAX),
                }
            })
            .collect();
        Ok(RaceReport {
            winner: winner.map(|w| self.contenders[w].name.clone()),
            time_to_winner,
            stop_time,
            sessions_stopped: contenders.iter().filter(|c| c.session_stopped).count(),
            contenders,
            pushed,
            push_error,
            winner_patch,
            ended_early: if winner.is_none() {
                self.tracker.closed()
            } else {
                None
            },
            sessions_not_stopped,
        })
    }

    /// One contender: a session (a fresh one again after an infrastructure error before its
    /// agent answered), setup, then invoke → check rounds.
    #[allow(clippy::too_many_arguments)]
    async fn contend(
        &self,
        index: usize,
        current: &Mutex<Option<Session>>,
        sessions_taken: &AtomicUsize,
        payload: Bytes,
        check: Command,
        tries: &AtomicUsize,
        notify: &(impl Fn(usize, RacePhase) + Sync),
    ) -> Outcome {
        let Some(contender) = self.contenders.get(index) else {
            return Outcome::NotStarted {
                cause: Cause::Rejected,
                why: "no such contender".into(),
            };
        };
        let mut worked = false;
        let mut taken = 0u32;
        loop {
            let mut session = Session::new(
                self.client.clone(),
                contender.arn.clone(),
                SessionId::generate(),
            );
            // The service's quota for this runtime, registered in (and shared through) the client.
            let _ = self.client.command_rate_limiter(&contender.arn);
            if let Some(l) = &self.limiter {
                session = session.with_rate_limiter(l.clone());
            }
            if let Some(q) = &contender.qualifier {
                session = session.with_qualifier(q);
            }
            match self.tracker.start(&session).await {
                Ok(()) => {}
                Err(StartError::Refused(Refused::Closed(why))) => {
                    return Outcome::NotStarted {
                        cause: Cause::Cancelled,
                        why,
                    };
                }
                Err(StartError::Refused(Refused::SessionBudget)) => {
                    return Outcome::NotStarted {
                        cause: Cause::SessionBudget,
                        why: "session budget spent".into(),
                    };
                }
                Err(StartError::Ledger(e)) => {
                    return Outcome::NotStarted {
                        cause: Cause::LocalIo,
                        why: e.to_string(),
                    };
                }
            }
            taken = taken.saturating_add(1);
            sessions_taken.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut c) = current.lock() {
                *c = Some(session.clone());
            }
            let outcome = self
                .contend_in(
                    index,
                    &session,
                    &payload,
                    &check,
                    tries,
                    notify,
                    &mut worked,
                )
                .await;
            match &outcome {
                Outcome::Failed { error, .. }
                    if !worked && taken < self.infra_attempts && {
                        let (o, c) = classify(error);
                        o == RunOutcome::InfraError && c.is_transient()
                    } =>
                {
                    notify(index, RacePhase::Retrying(taken.saturating_add(1)));
                    self.tracker.stop(&session).await;
                }
                _ => return outcome,
            }
        }
    }

    /// Setup, then invoke → check rounds in one session.
    #[allow(clippy::too_many_arguments)]
    async fn contend_in(
        &self,
        index: usize,
        session: &Session,
        payload: &Bytes,
        check: &Command,
        tries: &AtomicUsize,
        notify: &(impl Fn(usize, RacePhase) + Sync),
        worked: &mut bool,
    ) -> Outcome {
        if let Some(setup) = &self.setup {
            notify(index, RacePhase::Setup);
            if let Err(error) = setup(session.clone()).await {
                return Outcome::Failed { attempts: 0, error };
            }
        }
        let mut tail = String::new();
        for attempt in 1..=self.attempts {
            tries.store(attempt, Ordering::Relaxed);
            notify(index, RacePhase::Invoking(attempt));
            let reply = match session.invoke(payload.clone()).send().await {
                Ok(r) => read_reply(r).await,
                Err(e) => Err((e, 0)),
            };
            match reply {
                Ok(r) => *worked |= r.bytes > 0,
                Err((error, bytes)) => {
                    *worked |= bytes > 0;
                    return Outcome::Failed {
                        attempts: attempt,
                        error,
                    };
                }
            }
            notify(index, RacePhase::Checking(attempt));
            // The check is ours: tried again in the same session after a transient error.
            let mut out = Err(Error::InvalidInput {
                field: "check",
                rule: "not run".into(),
            });
            for _ in 0..3 {
                out = match session.command(check.clone()).send().await {
                    Ok(stream) => stream.output().await,
                    Err(e) => Err(e),
                };
                match &out {
                    Err(e) if classify(e).1.is_transient() => continue,
                    _ => break,
                }
            }
            match out {
                Ok(out) => {
                    tail = crate::data::command_tail(&format!("{}{}", out.stdout, out.stderr));
                    if out.success() {
                        return Outcome::Passed {
                            attempts: attempt,
                            tail,
                        };
                    }
                    notify(index, RacePhase::CheckFailed(attempt));
                }
                Err(error) => {
                    return Outcome::Failed {
                        attempts: attempt,
                        error,
                    };
                }
            }
        }
        Outcome::CheckFailed {
            attempts: self.attempts,
            tail,
        }
    }
}
