//! *Bench* — who fixes it best? A matrix of variants (any number of axes, e.g. harness ×
//! model) × repeats, each run in a fresh session, graded on latency, test pass rate and
//! cost, written as CSV / JSON rows, an aggregate table and (feature `chart`) an SVG chart.
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
//! use agentcore_sdk::workflow::bench::{Bench, Prices, TestScore};
//! let arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/coder-abc123";
//! let report = Bench::builder(&client)
//!     .axis("harness", ["claude-code", "codex", "aider"])
//!     .axis("model", ["sonnet", "haiku"])
//!     .repeats(3)
//!     .runtime(arn)
//!     // The payload is this object with the variant's labels added: {"issue":…,"harness":…,"model":…}
//!     .task_json(&serde_json::json!({"issue": "make the tests pass"}))?
//!     .check("cd /mnt/workspace/repo && ./test.sh")
//!     .score(|out| TestScore::count_lines(&out.stdout, "PASS", "FAIL"))
//!     .cost_model(Prices::per_session_second(0.0001).tokens(3e-6, 15e-6))
//!     .output("bench.csv") // resumable: finished rows are skipped on a re-run
//!     .run()
//!     .await?;
//! print!("{}", report.table());
//! std::fs::write("bench.json", report.to_json()).unwrap();
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::data::CommandOutput;
use crate::data::CommandRateLimiter;
use crate::error::{Deferred, Error};
use crate::session::Session;
use crate::types::Command;
use crate::types::{IntoRuntimeArn, SessionId};

use super::race::{Contender, SessionHook, StopOnDrop, hook};

/// The largest agent reply a run collects (for its token usage): a larger reply fails the run
/// with [`Error::TooLarge`] (in its row's error).
const REPLY_LIMIT: usize = 16 * 1024 * 1024;

/// One cell of the matrix: a value for every axis.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Variant {
    labels: Vec<(String, String)>,
}

impl Variant {
    /// The value of `axis`.
    pub fn get(&self, axis: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(a, _)| a == axis)
            .map(|(_, v)| v.as_str())
    }

    /// `(axis, value)` pairs, in axis order.
    pub fn labels(&self) -> &[(String, String)] {
        &self.labels
    }

    /// `axis=value` pairs joined by spaces: the variant's name in reports.
    pub fn key(&self) -> String {
        self.labels
            .iter()
            .map(|(a, v)| format!("{a}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Tests passed out of tests run, for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TestScore {
    /// Tests that passed.
    pub passed: u32,
    /// Tests run.
    pub total: u32,
}

impl TestScore {
    /// `passed` of `total`.
    pub fn new(passed: u32, total: u32) -> Self {
        Self { passed, total }
    }

    /// 1 of 1 for exit code 0, else 0 of 1 (the default score).
    pub fn from_exit_code(out: &CommandOutput) -> Self {
        Self::new(u32::from(out.success()), 1)
    }

    /// Counts the lines starting with `pass` and with `fail`.
    pub fn count_lines(text: &str, pass: &str, fail: &str) -> Self {
        let (mut p, mut f) = (0u32, 0u32);
        for l in text.lines().map(str::trim_start) {
            if l.starts_with(pass) {
                p = p.saturating_add(1);
            } else if l.starts_with(fail) {
                f = f.saturating_add(1);
            }
        }
        Self::new(p, p.saturating_add(f))
    }

    /// `passed / total`, 0 when nothing ran.
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            f64::from(self.passed) / f64::from(self.total)
        }
    }
}

/// Tokens an agent reported for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Input (prompt) tokens.
    pub input: u64,
    /// Output (completion) tokens.
    pub output: u64,
}

impl TokenUsage {
    /// Reads token usage from a JSON reply: a `usage` object (or the top level) with
    /// `inputTokens` / `input_tokens` / `prompt_tokens` and `outputTokens` /
    /// `output_tokens` / `completion_tokens`. `None` when the reply says nothing.
    pub fn from_json_reply(reply: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(reply).ok()?;
        let obj = v.get("usage").unwrap_or(&v);
        let pick = |names: &[&str]| names.iter().find_map(|n| obj.get(*n)?.as_u64());
        let input = pick(&["inputTokens", "input_tokens", "prompt_tokens"]);
        let output = pick(&["outputTokens", "output_tokens", "completion_tokens"]);
        if input.is_none() && output.is_none() {
            return None;
        }
        Some(Self {
            input: input.unwrap_or(0),
            output: output.unwrap_or(0),
        })
    }
}

/// What a cost model sees of one run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunUsage<'a> {
    /// The variant.
    pub variant: &'a Variant,
    /// Wall time of the run (the session's billed time, roughly).
    pub wall: Duration,
    /// Tokens the agent reported, if it did.
    pub tokens: Option<TokenUsage>,
}

/// Turns a run's usage into a cost (any currency; the reports say `cost`). Closures
/// `Fn(&RunUsage) -> f64` are cost models too, for prices that depend on the variant.
pub trait CostModel: Send + Sync {
    /// The cost of one run.
    fn cost(&self, usage: &RunUsage<'_>) -> f64;
}

impl<F: Fn(&RunUsage<'_>) -> f64 + Send + Sync> CostModel for F {
    fn cost(&self, usage: &RunUsage<'_>) -> f64 {
        self(usage)
    }
}

/// A flat price list: per session-second, plus per input and output token.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Prices {
    /// Price of one second of a session.
    pub per_session_second: f64,
    /// Price of one input token.
    pub per_input_token: f64,
    /// Price of one output token.
    pub per_output_token: f64,
}

impl Prices {
    /// Session time only.
    pub fn per_session_second(price: f64) -> Self {
        Self {
            per_session_second: price,
            ..Self::default()
        }
    }

    /// Adds token prices.
    pub fn tokens(mut self, per_input: f64, per_output: f64) -> Self {
        self.per_input_token = per_input;
        self.per_output_token = per_output;
        self
    }
}

impl Prices {
    /// The cost of one run at these prices (also [`CostModel::cost`]).
    pub fn cost_of(&self, u: &RunUsage<'_>) -> f64 {
        let t = u.tokens.unwrap_or_default();
        u.wall.as_secs_f64() * self.per_session_second
            + t.input as f64 * self.per_input_token
            + t.output as f64 * self.per_output_token
    }
}

impl CostModel for Prices {
    fn cost(&self, u: &RunUsage<'_>) -> f64 {
        self.cost_of(u)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunOutcome {
    /// The check passed (exit code 0).
    Pass,
    /// The check ran and failed.
    Fail,
    /// The run could not finish (setup, invocation or check errored, after retries).
    Error,
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        })
    }
}

/// One run: one row of the CSV and JSON outputs. Times in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BenchRun {
    /// The variant's key (`axis=value …`).
    pub variant: String,
    /// 0-based repeat.
    pub repeat: usize,
    /// The session it ran in (the last one, when it was retried).
    pub session_id: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Wall time: setup, invocation and check.
    pub wall_ms: f64,
    /// Time of the agent invocation, until its whole reply was read.
    pub invoke_ms: f64,
    /// Time of the check command.
    pub check_ms: f64,
    /// Tests passed.
    pub tests_passed: u32,
    /// Tests run.
    pub tests_total: u32,
    /// `tests_passed / tests_total`.
    pub pass_rate: f64,
    /// Input tokens the agent reported (0 when it reported none).
    pub input_tokens: u64,
    /// Output tokens the agent reported.
    pub output_tokens: u64,
    /// The cost model's figure.
    pub cost: f64,
    /// How many times the run was started (more than 1 after a failed start).
    pub tries: u32,
    /// The error, for [`RunOutcome::Error`].
    pub error: String,
}

/// One variant's figures over its runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VariantSummary {
    /// The variant's key.
    pub variant: String,
    /// Runs.
    pub runs: usize,
    /// Median wall time (ms).
    pub median_ms: f64,
    /// 90th percentile wall time (ms).
    pub p90_ms: f64,
    /// Mean test pass rate over the runs (errors count as 0).
    pub pass_rate: f64,
    /// Mean cost per run.
    pub cost_per_run: f64,
    /// Total cost.
    pub cost_total: f64,
    /// Runs that ended in [`RunOutcome::Error`].
    pub errors: usize,
}

/// Everything a bench did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct BenchReport {
    /// Every run, by variant then repeat, including those kept from an earlier run of the
    /// same output file.
    pub runs: Vec<BenchRun>,
    /// How many runs this call ran (the rest were resumed from the output file).
    pub ran: usize,
    /// Time of this call.
    pub wall_time_ms: f64,
}

impl BenchReport {
    /// Per-variant figures, in matrix order.
    pub fn aggregate(&self) -> Vec<VariantSummary> {
        let mut order: Vec<&str> = Vec::new();
        let mut by: HashMap<&str, Vec<&BenchRun>> = HashMap::new();
        for r in &self.runs {
            if !by.contains_key(r.variant.as_str()) {
                order.push(&r.variant);
            }
            by.entry(&r.variant).or_default().push(r);
        }
        order
            .into_iter()
            .map(|v| {
                let runs = by.remove(v).unwrap_or_default();
                let n = runs.len().max(1) as f64;
                let mut wall: Vec<f64> = runs.iter().map(|r| r.wall_ms).collect();
                wall.sort_by(f64::total_cmp);
                let cost_total: f64 = runs.iter().map(|r| r.cost).sum();
                VariantSummary {
                    variant: v.to_owned(),
                    runs: runs.len(),
                    median_ms: percentile(&wall, 50.0),
                    p90_ms: percentile(&wall, 90.0),
                    pass_rate: runs.iter().map(|r| r.pass_rate).sum::<f64>() / n,
                    cost_per_run: cost_total / n,
                    cost_total,
                    errors: runs
                        .iter()
                        .filter(|r| r.outcome == RunOutcome::Error)
                        .count(),
                }
            })
            .collect()
    }

    /// The aggregate as a plain-text table.
    pub fn table(&self) -> String {
        let rows = self.aggregate();
        let width = rows
            .iter()
            .map(|r| r.variant.len())
            .max()
            .unwrap_or(7)
            .max(7);
        let mut out = format!(
            "{:<width$}  {:>4}  {:>9}  {:>9}  {:>9}  {:>10}  {:>6}\n",
            "variant", "runs", "median", "p90", "pass rate", "cost/run", "errors"
        );
        for r in &rows {
            out.push_str(&format!(
                "{:<width$}  {:>4}  {:>7.0}ms  {:>7.0}ms  {:>8.0}%  {:>10.5}  {:>6}\n",
                r.variant,
                r.runs,
                r.median_ms,
                r.p90_ms,
                r.pass_rate * 100.0,
                r.cost_per_run,
                r.errors
            ));
        }
        out
    }

    /// One row per run, with a header (RFC 4180).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &self.runs {
            // Serializing plain rows into memory cannot fail.
            let _ = w.serialize(r);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// One object per run, plus the aggregate.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&serde_json::json!({
            "runs": self.runs,
            "variants": self.aggregate(),
        }))
        .unwrap_or_default()
    }

    /// An SVG chart: median latency (x) against pass rate (y), one point per variant, with a
    /// bar from its median to its p90 latency and a point size that grows with its cost.
    #[cfg(feature = "chart")]
    pub fn to_svg(&self) -> Result<String, Error> {
        super::chart::latency_vs_pass_rate(&self.aggregate())
    }
}

/// The `p`-th percentile (0..=100) of `sorted` by nearest rank; 0 when empty.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    let rank = ((p / 100.0) * last as f64).round() as usize;
    sorted.get(rank.min(last)).copied().unwrap_or(0.0)
}

type ConfigureFn = Arc<dyn Fn(&Variant) -> Result<Contender, Error> + Send + Sync>;
type ScoreFn = Arc<dyn Fn(&CommandOutput) -> TestScore + Send + Sync>;
type RunFn = Arc<dyn Fn(&BenchRun) + Send + Sync>;

/// A benchmark matrix. See the [module documentation](self).
#[derive(Clone)]
pub struct Bench {
    client: Client,
    axes: Vec<(String, Vec<String>)>,
    repeats: usize,
    runtime: Option<crate::types::RuntimeArn>,
    task: serde_json::Value,
    configure: Option<ConfigureFn>,
    setup: Option<SessionHook>,
    check: Option<Command>,
    score: ScoreFn,
    cost: Arc<dyn CostModel>,
    concurrency: usize,
    start_attempts: u32,
    limiter: Arc<CommandRateLimiter>,
    output: Option<PathBuf>,
    on_run: Option<RunFn>,
    error: Option<Deferred>,
}

impl fmt::Debug for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bench")
            .field("axes", &self.axes)
            .field("repeats", &self.repeats)
            .field("runtime", &self.runtime)
            .field("check", &self.check)
            .field("concurrency", &self.concurrency)
            .field("start_attempts", &self.start_attempts)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl Bench {
    /// An empty matrix: add axes, a runtime (or [`configure`](Self::configure)) and a check.
    /// One repeat, 4 runs at a time, 3 tries to start a run, the service's 25 commands/s,
    /// score from the check's exit code, zero cost.
    pub fn builder(client: &Client) -> Self {
        Self {
            client: client.clone(),
            axes: Vec::new(),
            repeats: 1,
            runtime: None,
            task: serde_json::Value::Object(Default::default()),
            configure: None,
            setup: None,
            check: None,
            score: Arc::new(TestScore::from_exit_code),
            cost: Arc::new(Prices::default()),
            concurrency: 4,
            start_attempts: 3,
            limiter: Arc::new(CommandRateLimiter::per_second(
                CommandRateLimiter::SERVICE_LIMIT,
            )),
            output: None,
            on_run: None,
            error: None,
        }
    }

    /// Adds an axis with its values; the matrix is every combination of all axes.
    pub fn axis<I, V>(mut self, name: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.axes
            .push((name.into(), values.into_iter().map(Into::into).collect()));
        self
    }

    /// Runs per variant (at least 1).
    pub fn repeats(mut self, n: usize) -> Self {
        self.repeats = n.max(1);
        self
    }

    /// Every variant runs on this runtime, invoked with the task object plus the variant's
    /// labels as members (see [`task_json`](Self::task_json)).
    pub fn runtime(mut self, arn: impl IntoRuntimeArn) -> Self {
        match arn.into_runtime_arn() {
            Ok(a) => self.runtime = Some(a),
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(e.into());
                }
            }
        }
        self
    }

    /// The task: a JSON object, sent with each variant's `axis: value` members added.
    pub fn task_json(mut self, value: &impl Serialize) -> Result<Self, Error> {
        let v = serde_json::to_value(value).map_err(|e| Error::InvalidInput {
            field: "task",
            rule: format!("cannot be serialized as JSON: {e}"),
        })?;
        if !v.is_object() {
            return Err(Error::InvalidInput {
                field: "task",
                rule: "must be a JSON object (the variant's labels are added to it)".into(),
            });
        }
        self.task = v;
        Ok(self)
    }

    /// Chooses runtime, endpoint and payload per variant (instead of
    /// [`runtime`](Self::runtime) + [`task_json`](Self::task_json)); the contender's name is
    /// not used. An error is reported on that variant's rows.
    pub fn configure(
        mut self,
        f: impl Fn(&Variant) -> Result<Contender, Error> + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each run's fresh session before the invocation.
    pub fn setup<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.setup = Some(hook(f));
        self
    }

    /// The check, run as a command after the invocation. Required.
    pub fn check(mut self, command: impl Into<Command>) -> Self {
        self.check = Some(command.into());
        self
    }

    /// How a check's output becomes a test score (default [`TestScore::from_exit_code`]).
    pub fn score(
        mut self,
        f: impl Fn(&CommandOutput) -> TestScore + Send + Sync + 'static,
    ) -> Self {
        self.score = Arc::new(f);
        self
    }

    /// How a run's usage becomes a cost (default: zero). See [`Prices`].
    pub fn cost_model(mut self, model: impl CostModel + 'static) -> Self {
        self.cost = Arc::new(model);
        self
    }

    /// Runs at the same time (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Tries to start a run whose setup or invocation fails with a retryable error, each in
    /// a fresh session (default 3, at least 1); after that the run is an `error` row.
    pub fn start_attempts(mut self, n: u32) -> Self {
        self.start_attempts = n.max(1);
        self
    }

    /// Command starts per second across the whole bench.
    pub fn commands_per_second(mut self, n: u32) -> Self {
        self.limiter = Arc::new(CommandRateLimiter::per_second(n));
        self
    }

    /// Share a limiter with other work on the same agent.
    pub fn rate_limiter(mut self, limiter: Arc<CommandRateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// The CSV file rows are appended to as runs finish. A re-run with the same file skips
    /// the runs it already holds (except `error` rows, which run again).
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.output = Some(path.into());
        self
    }

    /// Called with each row as it finishes.
    pub fn on_run(mut self, f: impl Fn(&BenchRun) + Send + Sync + 'static) -> Self {
        self.on_run = Some(Arc::new(f));
        self
    }

    /// Every variant of the matrix, in order.
    pub fn variants(&self) -> Vec<Variant> {
        let mut out = vec![Variant { labels: Vec::new() }];
        for (axis, values) in &self.axes {
            out = out
                .into_iter()
                .flat_map(|v| {
                    values.iter().map(move |val| {
                        let mut labels = v.labels.clone();
                        labels.push((axis.clone(), val.clone()));
                        Variant { labels }
                    })
                })
                .collect();
        }
        out
    }

    fn contender_for(&self, variant: &Variant) -> Result<Contender, Error> {
        if let Some(f) = &self.configure {
            return f(variant);
        }
        let Some(arn) = &self.runtime else {
            return Err(Error::InvalidInput {
                field: "runtime",
                rule: "a bench needs a runtime or a configure function".into(),
            });
        };
        let mut payload = self.task.clone();
        if let Some(obj) = payload.as_object_mut() {
            for (a, v) in variant.labels() {
                obj.insert(a.clone(), serde_json::Value::String(v.clone()));
            }
        }
        Contender::new(variant.key(), arn.clone())?.json(&payload)
    }

    /// Runs every (variant, repeat) not already in the output file and reports. Errors for
    /// a bench that cannot start (no check, no axis values, an unreadable output file);
    /// each run's failure is in its row.
    ///
    /// Dropping the future part-way stops the sessions of the runs in flight (as a dropped race
    /// does); rows already appended to the output file stay, and a re-run skips them.
    pub async fn run(self) -> Result<BenchReport, Error> {
        if let Some(e) = self.error.clone() {
            return Err(e.into());
        }
        let check = self.check.clone().ok_or_else(|| Error::InvalidInput {
            field: "check",
            rule: "a bench needs a check command".into(),
        })?;
        if self.configure.is_none() && self.runtime.is_none() {
            return Err(Error::InvalidInput {
                field: "runtime",
                rule: "a bench needs a runtime or a configure function".into(),
            });
        }
        let variants = self.variants();
        if variants.is_empty() {
            return Err(Error::InvalidInput {
                field: "axis",
                rule: "every axis needs at least one value".into(),
            });
        }
        let started = Instant::now();
        let mut done: BTreeMap<(String, usize), BenchRun> = BTreeMap::new();
        if let Some(path) = &self.output {
            for r in read_rows(path)? {
                if r.outcome != RunOutcome::Error {
                    done.insert((r.variant.clone(), r.repeat), r);
                }
            }
            write_rows(path, done.values())?;
        }
        let todo: Vec<(usize, Variant, usize)> = variants
            .iter()
            .enumerate()
            .flat_map(|(vi, v)| (0..self.repeats).map(move |r| (vi, v.clone(), r)))
            .filter(|(_, v, r)| !done.contains_key(&(v.key(), *r)))
            .collect();
        let ran = todo.len();
        let this = &self;
        let check = &check;
        let new_rows: Vec<(usize, BenchRun)> = futures::stream::iter(todo)
            .map(|(vi, variant, repeat)| async move {
                let row = this.one(&variant, repeat, check).await;
                if let Some(f) = &this.on_run {
                    f(&row);
                }
                if let Some(path) = &this.output {
                    // Rows are appended as they finish, so a killed bench keeps them.
                    if let Err(e) = append_row(path, &row) {
                        tracing::warn!(error = %e, "bench: cannot append a row to the output file");
                    }
                }
                (vi, row)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        let order: HashMap<String, usize> = variants
            .iter()
            .enumerate()
            .map(|(i, v)| (v.key(), i))
            .collect();
        let mut runs: Vec<BenchRun> = done.into_values().collect();
        runs.extend(new_rows.into_iter().map(|(_, r)| r));
        runs.sort_by_key(|r| {
            (
                order.get(&r.variant).copied().unwrap_or(usize::MAX),
                r.repeat,
            )
        });
        if let Some(path) = &self.output {
            write_rows(path, runs.iter())?;
        }
        Ok(BenchReport {
            runs,
            ran,
            wall_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// One run, retried in a fresh session while it fails to start.
    async fn one(&self, variant: &Variant, repeat: usize, check: &Command) -> BenchRun {
        let mut row = BenchRun {
            variant: variant.key(),
            repeat,
            session_id: String::new(),
            outcome: RunOutcome::Error,
            wall_ms: 0.0,
            invoke_ms: 0.0,
            check_ms: 0.0,
            tests_passed: 0,
            tests_total: 0,
            pass_rate: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            cost: 0.0,
            tries: 0,
            error: String::new(),
        };
        let contender = match self.contender_for(variant) {
            Ok(c) => c,
            Err(e) => {
                row.error = format!("configure: {e}");
                return row;
            }
        };
        loop {
            row.tries = row.tries.saturating_add(1);
            let mut session = Session::new(
                self.client.clone(),
                contender.arn().clone(),
                SessionId::generate(),
            )
            .with_rate_limiter(self.limiter.clone());
            if let Some(q) = contender.qualifier_ref() {
                session = session.with_qualifier(q);
            }
            row.session_id = session.id().as_str().to_owned();
            let guard = StopOnDrop {
                sessions: Arc::new(Mutex::new(vec![session.clone()])),
            };
            let t0 = Instant::now();
            let result = self
                .attempt(&session, contender.payload_or_empty(), check, &mut row)
                .await;
            row.wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
            let _ = session.stop().await;
            guard.disarm();
            match result {
                Ok(tokens) => {
                    let usage = RunUsage {
                        variant,
                        wall: t0.elapsed(),
                        tokens,
                    };
                    row.cost = self.cost.cost(&usage);
                    row.error.clear();
                    return row;
                }
                Err((started, e)) => {
                    row.error = e.to_string();
                    if started || !e.is_retryable() || row.tries >= self.start_attempts {
                        return row;
                    }
                    tracing::debug!(variant = %row.variant, repeat, error = %e, "bench: run failed to start; retrying in a new session");
                }
            }
        }
    }

    /// Setup, invoke, check. On error: whether the run had got past its start (the
    /// invocation answered), and the error.
    async fn attempt(
        &self,
        session: &Session,
        payload: Bytes,
        check: &Command,
        row: &mut BenchRun,
    ) -> Result<Option<TokenUsage>, (bool, Error)> {
        if let Some(setup) = &self.setup {
            setup(session.clone()).await.map_err(|e| (false, e))?;
        }
        let t = Instant::now();
        let response = session
            .invoke(payload)
            .send()
            .await
            .map_err(|e| (false, e))?;
        let reply = response
            .into_stream()
            .collect_up_to(REPLY_LIMIT)
            .await
            .map_err(|e| (true, e))?;
        row.invoke_ms = t.elapsed().as_secs_f64() * 1000.0;
        let tokens = TokenUsage::from_json_reply(&reply);
        if let Some(t) = tokens {
            row.input_tokens = t.input;
            row.output_tokens = t.output;
        }
        let t = Instant::now();
        let out = session
            .command(check.clone())
            .send()
            .await
            .map_err(|e| (true, e))?
            .output()
            .await
            .map_err(|e| (true, e))?;
        row.check_ms = t.elapsed().as_secs_f64() * 1000.0;
        let score = (self.score)(&out);
        row.tests_passed = score.passed;
        row.tests_total = score.total;
        row.pass_rate = score.rate();
        row.outcome = if out.success() {
            RunOutcome::Pass
        } else {
            RunOutcome::Fail
        };
        Ok(tokens)
    }
}

fn io_error(path: &Path, what: &str, e: impl fmt::Display) -> Error {
    Error::InvalidInput {
        field: "output",
        rule: format!("cannot {what} {}: {e}", path.display()),
    }
}

fn read_rows(path: &Path) -> Result<Vec<BenchRun>, Error> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path, "read", e)),
    };
    let mut rows = Vec::new();
    for r in csv::Reader::from_reader(file).deserialize::<BenchRun>() {
        match r {
            Ok(row) => rows.push(row),
            // A row cut short by a crash mid-append is run again.
            Err(e) => {
                tracing::warn!(error = %e, "bench: skipping an unreadable row of the output file")
            }
        }
    }
    Ok(rows)
}

fn write_rows<'a>(path: &Path, rows: impl Iterator<Item = &'a BenchRun>) -> Result<(), Error> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| io_error(&tmp, "write", e))?;
    for r in rows {
        w.serialize(r).map_err(|e| io_error(&tmp, "write", e))?;
    }
    w.flush().map_err(|e| io_error(&tmp, "write", e))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, "replace", e))
}

fn append_row(path: &Path, row: &BenchRun) -> Result<(), Error> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| io_error(path, "append to", e))?;
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
    let mut w = csv::WriterBuilder::new()
        .has_headers(empty)
        .from_writer(file);
    w.serialize(row)
        .map_err(|e| io_error(path, "append to", e))?;
    w.flush().map_err(|e| io_error(path, "append to", e))
}
