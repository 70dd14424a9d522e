//! Run one task over N sessions at once, each a new session of the same runtime, with bounded
//! concurrency and a shared command rate limiter, and collect a report: per-session latency
//! and outcome as a table, JSON or CSV. (Racing agents against each other is
//! [`race`](super::race); comparing configurations over repeats is [`bench`](mod@super::bench).)

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use crate::client::Client;
use crate::data::CommandOutput;
use crate::data::CommandRateLimiter;
use crate::error::Error;
use crate::session::Session;
use crate::types::{IntoRuntimeArn, RuntimeArn};

use super::ledger::Ledger;
use super::lifecycle::Tracker;

/// Runs a task on many sessions. See [`Fleet::builder`].
///
/// ```no_run
/// # async fn f(client: agentcore_sdk::Client, arn: &str) -> Result<(), agentcore_sdk::Error> {
/// use agentcore_sdk::workflow::fleet::Fleet;
/// let report = Fleet::builder(&client, arn)?
///     .sessions(20)
///     .concurrency(8)
///     .commands_per_second(25)
///     .run(|session, i| async move {
///         session.run(format!("cd /mnt/workspace && ./attempt.sh {i}")).await
///     })
///     .await;
/// println!("{}", report.table());
/// std::fs::write("fleet.csv", report.to_csv()).unwrap();
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Fleet {
    client: Client,
    arn: RuntimeArn,
    sessions: usize,
    concurrency: usize,
    limiter: Option<Arc<CommandRateLimiter>>,
    stop_sessions: bool,
    ledger: Option<Ledger>,
}

impl Fleet {
    /// A fleet on the runtime `arn`: 10 sessions, 10 at a time, the client's command limiter
    /// of the runtime (the service's 25 commands per second, shared with every experiment and
    /// call through the client).
    pub fn builder(client: &Client, arn: impl IntoRuntimeArn) -> Result<Self, Error> {
        Ok(Self {
            client: client.clone(),
            arn: arn.into_runtime_arn()?,
            sessions: 10,
            concurrency: 10,
            limiter: None,
            stop_sessions: true,
            ledger: None,
        })
    }

    /// How many sessions (one task run each).
    pub fn sessions(mut self, n: usize) -> Self {
        self.sessions = n;
        self
    }

    /// How many run at the same time (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// At most `n` command starts per second for this fleet: it can only lower the client's
    /// shared limiter of the runtime (the service allows 25 per agent).
    pub fn commands_per_second(mut self, n: u32) -> Self {
        self.limiter = Some(Arc::new(CommandRateLimiter::per_second(n)));
        self
    }

    /// Also wait on this limiter (it can only lower the rate).
    pub fn rate_limiter(mut self, limiter: Arc<CommandRateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Records every session the fleet starts, and whether its stop was acknowledged, in
    /// `ledger` (see [`ledger`](super::ledger)).
    pub fn ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Some(ledger.for_experiment("fleet"));
        self
    }

    /// Stop each session after its task (default `true`); `false` keeps them for inspection.
    pub fn stop_sessions(mut self, stop: bool) -> Self {
        self.stop_sessions = stop;
        self
    }

    /// Runs `task(session, index)` for every index, each on a new session, and reports.
    /// A task's error is recorded in its row; it does not stop the others.
    ///
    /// Dropping the future part-way drops the tasks in flight (each as its own futures define; a
    /// command fares as a dropped [`CommandStream`](crate::CommandStream)) and stops their
    /// sessions (best effort, on the current tokio runtime; what it could not stop stays in
    /// the [`ledger`](Self::ledger)). A stop that is not acknowledged is tried again at the
    /// end and reported in [`FleetReport::sessions_not_stopped`].
    pub async fn run<F, Fut>(self, task: F) -> FleetReport
    where
        F: Fn(Session, usize) -> Fut,
        Fut: Future<Output = Result<CommandOutput, Error>>,
    {
        let started = Instant::now();
        let tracker = Tracker::new();
        tracker.configure(self.ledger.clone(), None);
        let guard = tracker.drop_guard();
        let shared = self.client.command_rate_limiter(&self.arn).ok();
        let task = &task;
        let this = &self;
        let tracker = &tracker;
        let mut runs: Vec<FleetRun> = futures::stream::iter(0..self.sessions)
            .map(|i| async move {
                let mut session = Session::new(
                    this.client.clone(),
                    this.arn.clone(),
                    crate::types::SessionId::generate(),
                );
                if let Some(l) = &this.limiter {
                    session = session.with_rate_limiter(l.clone());
                }
                let t0 = Instant::now();
                let result = match tracker.start(&session).await {
                    Ok(()) => task(session.clone(), i).await,
                    Err(e) => Err(Error::InvalidInput {
                        field: "session",
                        rule: format!("not started: {e:?}"),
                    }),
                };
                let latency = t0.elapsed();
                if this.stop_sessions {
                    tracker.stop(&session).await;
                } else {
                    tracker.release(&session);
                }
                FleetRun::new(i, session.id().as_str(), latency, result)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let sessions_not_stopped = tracker.stop_live().await;
        guard.disarm();
        runs.sort_by_key(|r| r.index);
        let rate = |l: &Option<Arc<CommandRateLimiter>>| l.as_ref().map_or(u32::MAX, |l| l.rate());
        FleetReport {
            wall_time_ms: started.elapsed().as_secs_f64() * 1000.0,
            commands_per_second: rate(&shared).min(rate(&self.limiter)),
            runs,
            sessions_not_stopped,
        }
    }
}

/// One session's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FleetRun {
    /// The task index.
    pub index: usize,
    /// The session it ran in.
    pub session_id: String,
    /// Task duration in milliseconds.
    pub latency_ms: f64,
    /// Exit code of the task's command, when it got that far.
    pub exit_code: Option<i32>,
    /// `COMPLETED` / `TIMED_OUT`, when the command ended.
    pub status: Option<String>,
    /// Exit code 0 and completed.
    pub success: bool,
    /// Size of stdout.
    pub stdout_bytes: usize,
    /// The last 4 KiB of stdout.
    pub stdout_tail: String,
    /// The last 4 KiB of stderr.
    pub stderr_tail: String,
    /// The error, when the task failed before a command result.
    pub error: Option<String>,
}

impl FleetRun {
    fn new(
        index: usize,
        session_id: &str,
        latency: Duration,
        result: Result<CommandOutput, Error>,
    ) -> Self {
        let mut run = Self {
            index,
            session_id: session_id.to_owned(),
            latency_ms: latency.as_secs_f64() * 1000.0,
            exit_code: None,
            status: None,
            success: false,
            stdout_bytes: 0,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            error: None,
        };
        match result {
            Ok(out) => {
                run.success = out.success();
                run.exit_code = Some(out.exit_code);
                run.status = Some(out.status.to_string());
                run.stdout_bytes = out.stdout.len();
                run.stdout_tail = crate::data::command_tail(&out.stdout);
                run.stderr_tail = crate::data::command_tail(&out.stderr);
            }
            Err(Error::CommandFailed {
                exit_code,
                status,
                stdout_tail,
                stderr_tail,
            }) => {
                run.exit_code = Some(exit_code);
                run.status = Some(status.to_string());
                run.stdout_tail = stdout_tail;
                run.stderr_tail = stderr_tail;
            }
            Err(e) => run.error = Some(e.to_string()),
        }
        run
    }
}

/// Everything a fleet did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FleetReport {
    /// One row per session, by index.
    pub runs: Vec<FleetRun>,
    /// Time for the whole fleet.
    pub wall_time_ms: f64,
    /// The rate limit in force.
    pub commands_per_second: u32,
    /// Sessions whose stop was never acknowledged (with a ledger, they stay listed there).
    pub sessions_not_stopped: Vec<String>,
}

impl FleetReport {
    /// How many runs succeeded.
    pub fn succeeded(&self) -> usize {
        self.runs.iter().filter(|r| r.success).count()
    }

    /// The `p`-th percentile (0..=100) of task latency, in milliseconds.
    pub fn latency_percentile(&self, p: f64) -> f64 {
        let mut l: Vec<f64> = self.runs.iter().map(|r| r.latency_ms).collect();
        l.sort_by(f64::total_cmp);
        super::bench::percentile(&l, p)
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One CSV row per run (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        fn field(s: &str) -> String {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        }
        let mut out = String::from(
            "index,session_id,latency_ms,exit_code,status,success,stdout_bytes,error\n",
        );
        for r in &self.runs {
            out.push_str(&format!(
                "{},{},{:.1},{},{},{},{},{}\n",
                r.index,
                field(&r.session_id),
                r.latency_ms,
                r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                field(r.status.as_deref().unwrap_or_default()),
                r.success,
                r.stdout_bytes,
                field(r.error.as_deref().unwrap_or_default()),
            ));
        }
        out
    }

    /// A plain-text comparison table with a summary line.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:>5}  {:<38}  {:>10}  {:>5}  {:<10}  {}\n",
            "#", "session", "latency", "exit", "status", "result"
        );
        for r in &self.runs {
            out.push_str(&format!(
                "{:>5}  {:<38}  {:>8.0}ms  {:>5}  {:<10}  {}\n",
                r.index,
                r.session_id,
                r.latency_ms,
                r.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.status.as_deref().unwrap_or("-"),
                if r.success {
                    "ok".to_owned()
                } else {
                    r.error.clone().unwrap_or_else(|| "failed".into())
                }
            ));
        }
        out.push_str(&format!(
            "{} of {} succeeded · p50 {:.0} ms · p90 {:.0} ms · wall {:.0} ms · limit {} commands/s\n",
            self.succeeded(),
            self.runs.len(),
            self.latency_percentile(50.0),
            self.latency_percentile(90.0),
            self.wall_time_ms,
            self.commands_per_second
        ));
        out
    }
}
