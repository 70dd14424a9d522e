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
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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

use super::ledger::Ledger;
use super::lifecycle::{Budget, CancelHandle, Refused, StartError, Tracker};
pub use super::outcome::{Cause, Outcome, PassRate};
use super::race::{Contender, SessionHook, hook};

/// How much of an agent's reply a run keeps (for its token usage and trajectory); the rest
/// is read and counted, never an error: the agent is judged by the check, not its reply.
pub(crate) const REPLY_KEEP: usize = 16 * 1024 * 1024;

/// One trial of the matrix: a variant, a repeat, and the seed of its randomness, the same
/// for every try of the trial (a retry in a fresh session replays the same trial).
#[derive(Debug, Clone, Copy)]
pub struct Trial<'a> {
    variant: &'a Variant,
    repeat: usize,
}

impl<'a> Trial<'a> {
    /// The variant.
    pub fn variant(&self) -> &'a Variant {
        self.variant
    }
    /// 0-based repeat.
    pub fn repeat(&self) -> usize {
        self.repeat
    }
    /// The variant's value of `axis`.
    pub fn get(&self, axis: &str) -> Option<&'a str> {
        self.variant.get(axis)
    }
    /// The variant's key.
    pub fn key(&self) -> String {
        self.variant.key()
    }
    /// A seed from (variant, repeat), below 2^53 so JSON carries it exactly; pass it to the
    /// agent so a retried trial draws the same.
    pub fn seed(&self) -> u64 {
        trial_seed(&self.variant.key(), self.repeat)
    }
}

/// The seed of (variant key, repeat): FNV-1a, 53 bits.
pub(crate) fn trial_seed(key: &str, repeat: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key
        .bytes()
        .chain(*b"#")
        .chain(repeat.to_string().into_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h >> 11
}

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
    pub outcome: Outcome,
    /// Why, for an agent or infrastructure error.
    #[serde(default)]
    pub cause: Cause,
    /// Wall time of its last try: setup, invocation and check.
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
    pub test_score: f64,
    /// Input tokens the agent reported (0 when it reported none).
    pub input_tokens: u64,
    /// Output tokens the agent reported.
    pub output_tokens: u64,
    /// Bytes of the agent's reply.
    #[serde(default)]
    pub reply_bytes: u64,
    /// The cost model's figure, every try included (a failed try's session was billed too).
    pub cost: f64,
    /// Sessions it took (more than 1 after infrastructure errors before the agent worked).
    pub tries: u32,
    /// When its last try started (RFC 3339).
    #[serde(default)]
    pub started_at: String,
    /// When it ended (RFC 3339).
    #[serde(default)]
    pub finished_at: String,
    /// The error, for an agent or infrastructure error (and the infrastructure errors that
    /// were retried, before it).
    pub error: String,
}

/// One line for a progress log: variant, repeat, outcome, wall time, tests, cost and, for an
/// error, its cause and message.
///
/// ```text
/// harness=claude model=opus      #0  passed         1532 ms  3/3 tests  cost 0.01250
/// ```
impl fmt::Display for BenchRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<30} #{}  {:<11} {:>7.0} ms  {}/{} tests  cost {:.5}",
            self.variant,
            self.repeat,
            self.outcome.to_string(),
            self.wall_ms,
            self.tests_passed,
            self.tests_total,
            self.cost,
        )?;
        if !self.error.is_empty() {
            write!(f, "  ({}: {})", self.cause, self.error)?;
        }
        Ok(())
    }
}

/// One variant's figures over its runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VariantSummary {
    /// The variant's key.
    pub variant: String,
    /// Runs.
    pub runs: usize,
    /// Valid trials: passed, failed and agent errors (infrastructure errors are left out).
    pub valid: usize,
    /// Trials that passed.
    pub passed: usize,
    /// `passed / valid`.
    pub pass_rate: f64,
    /// Lower bound of the pass rate's 95% Wilson interval.
    pub pass_rate_low: f64,
    /// Upper bound of the pass rate's 95% Wilson interval.
    pub pass_rate_high: f64,
    /// Agent errors (counted as trials that did not pass).
    pub agent_errors: usize,
    /// Infrastructure errors (left out of the pass rate).
    pub infra_errors: usize,
    /// Median wall time of the valid trials (ms).
    pub median_ms: f64,
    /// 90th percentile wall time of the valid trials (ms).
    pub p90_ms: f64,
    /// Mean test score over the valid trials.
    pub test_score: f64,
    /// Mean cost per run.
    pub cost_per_run: f64,
    /// Total cost.
    pub cost_total: f64,
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
    /// When this call started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339).
    pub finished_at: String,
    /// Why the bench ended before running everything (cancelled, a budget), if it did.
    pub ended_early: Option<String>,
    /// Sessions whose stop was never acknowledged (they stay "not stopped" in the ledger).
    pub sessions_not_stopped: Vec<String>,
    /// Sessions started by this call, retries included.
    pub sessions_started: u64,
    /// The agents' trajectories (ATIF JSON, from a reply's `trajectory` member), by variant
    /// key and repeat.
    #[serde(skip)]
    pub trajectories: BTreeMap<(String, usize), serde_json::Value>,
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
                let valid: Vec<&&BenchRun> = runs.iter().filter(|r| r.outcome.is_valid()).collect();
                let passed = valid
                    .iter()
                    .filter(|r| r.outcome == Outcome::Passed)
                    .count();
                let rate = PassRate::new(passed, valid.len());
                let mut wall: Vec<f64> = valid.iter().map(|r| r.wall_ms).collect();
                wall.sort_by(f64::total_cmp);
                let cost_total: f64 = runs.iter().map(|r| r.cost).sum();
                let n = runs.len().max(1) as f64;
                VariantSummary {
                    variant: v.to_owned(),
                    runs: runs.len(),
                    valid: valid.len(),
                    passed,
                    pass_rate: rate.rate,
                    pass_rate_low: rate.low,
                    pass_rate_high: rate.high,
                    agent_errors: runs
                        .iter()
                        .filter(|r| r.outcome == Outcome::AgentError)
                        .count(),
                    infra_errors: runs
                        .iter()
                        .filter(|r| r.outcome == Outcome::InfraError)
                        .count(),
                    median_ms: percentile(&wall, 50.0),
                    p90_ms: percentile(&wall, 90.0),
                    test_score: valid.iter().map(|r| r.test_score).sum::<f64>()
                        / valid.len().max(1) as f64,
                    cost_per_run: cost_total / n,
                    cost_total,
                }
            })
            .collect()
    }

    /// The pass rate over every valid trial of the bench.
    pub fn pass_rate(&self) -> PassRate {
        let valid = self.runs.iter().filter(|r| r.outcome.is_valid()).count();
        let passed = self
            .runs
            .iter()
            .filter(|r| r.outcome == Outcome::Passed)
            .count();
        PassRate::new(passed, valid)
    }

    /// Infrastructure errors left out of the pass rates, by cause.
    pub fn excluded(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.runs.iter().filter(|r| !r.outcome.is_valid()) {
            let n = out.entry(r.cause.to_string()).or_insert(0usize);
            *n = n.saturating_add(1);
        }
        out
    }

    /// The aggregate as a plain-text table: per variant the runs, the valid trials counted,
    /// the pass rate over them with its 95% interval, times and cost; then what was left out
    /// and why.
    pub fn table(&self) -> String {
        let rows = self.aggregate();
        let width = rows
            .iter()
            .map(|r| r.variant.len())
            .max()
            .unwrap_or(7)
            .max(7);
        let mut out = format!(
            "{:<width$}  {:>4}  {:>5}  {:>9}  {:>13}  {:>9}  {:>9}  {:>10}  {:>9}\n",
            "variant",
            "runs",
            "valid",
            "pass rate",
            "95% CI",
            "median",
            "p90",
            "cost/run",
            "agent err"
        );
        for r in &rows {
            out.push_str(&format!(
                "{:<width$}  {:>4}  {:>5}  {:>8.0}%  {:>5.0}% – {:>3.0}%  {:>7.0}ms  {:>7.0}ms  {:>10.5}  {:>9}\n",
                r.variant,
                r.runs,
                r.valid,
                r.pass_rate * 100.0,
                r.pass_rate_low * 100.0,
                r.pass_rate_high * 100.0,
                r.median_ms,
                r.p90_ms,
                r.cost_per_run,
                r.agent_errors
            ));
        }
        let excluded = self.excluded();
        let n: usize = excluded.values().sum();
        if n == 0 {
            out.push_str("excluded: none (every run is a valid trial)\n");
        } else {
            let why: Vec<String> = excluded.iter().map(|(c, k)| format!("{c} ×{k}")).collect();
            out.push_str(&format!(
                "excluded: {n} runs with infrastructure errors ({})\n",
                why.join(", ")
            ));
        }
        let retried: u32 = self.runs.iter().map(|r| r.tries.saturating_sub(1)).sum();
        if retried > 0 {
            out.push_str(&format!(
                "retried: {retried} infrastructure errors in fresh sessions before the agent worked\n"
            ));
        }
        if let Some(why) = &self.ended_early {
            out.push_str(&format!("ended early: {why}\n"));
        }
        if !self.sessions_not_stopped.is_empty() {
            out.push_str(&format!(
                "NOT STOPPED: {} sessions (see the ledger; `stop_all` stops them)\n",
                self.sessions_not_stopped.len()
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

    /// One object per run, plus the aggregate and the overall pass rate.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&serde_json::json!({
            "runs": self.runs,
            "variants": self.aggregate(),
            "passRate": self.pass_rate(),
            "excluded": self.excluded(),
            "endedEarly": self.ended_early,
            "sessionsNotStopped": self.sessions_not_stopped,
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

/// `t` as RFC 3339 with milliseconds (UTC).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// An agent's reply as a run keeps it.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    /// The first [`REPLY_KEEP`] bytes.
    pub(crate) kept: Vec<u8>,
    /// Every byte's count.
    pub(crate) bytes: u64,
}

impl Reply {
    /// Whether the whole reply was kept.
    pub(crate) fn complete(&self) -> bool {
        u64::try_from(self.kept.len()).is_ok_and(|k| k == self.bytes)
    }
    /// The reply as JSON, when it is whole JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        self.complete()
            .then(|| serde_json::from_slice(&self.kept).ok())
            .flatten()
    }
}

/// Reads a reply to its end, keeping its head; on error, the bytes read so far.
pub(crate) async fn read_reply(
    response: crate::data::InvokeResponse,
) -> Result<Reply, (Error, u64)> {
    let mut reply = Reply::default();
    let mut stream = response.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (e, reply.bytes))?;
        reply.bytes = reply
            .bytes
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        let room = REPLY_KEEP.saturating_sub(reply.kept.len());
        reply
            .kept
            .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
    }
    Ok(reply)
}

/// The trajectory an agent returned: an ATIF object under `trajectory` in its JSON reply.
pub(crate) fn trajectory_of(reply: &serde_json::Value) -> Option<serde_json::Value> {
    let t = reply.get("trajectory")?;
    t.get("schema_version")?
        .as_str()?
        .starts_with("ATIF-")
        .then(|| t.clone())
}

type ConfigureFn = Arc<dyn Fn(&Trial<'_>) -> Result<Contender, Error> + Send + Sync>;
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
    infra_attempts: u32,
    check_attempts: u32,
    limiter: Option<Arc<CommandRateLimiter>>,
    output: Option<PathBuf>,
    ledger: Option<Ledger>,
    budget: Budget,
    tracker: Tracker,
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
            .field("infra_attempts", &self.infra_attempts)
            .field("output", &self.output)
            .field("ledger", &self.ledger)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// What one try of a run came to, when it did not finish.
struct Failure {
    error: Error,
    /// Whether the agent had produced work (reply bytes, token usage): such a run is not
    /// tried again in a fresh session (it would be billed twice).
    worked: bool,
}

impl Bench {
    /// An empty matrix: add axes, a runtime (or [`configure`](Self::configure)) and a check.
    /// One repeat, 4 runs at a time, 3 sessions per run for infrastructure errors, the
    /// client's command limiter of the runtime (the service's 25 commands/s), score from the
    /// check's exit code, zero cost, no ledger, no budget.
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
            infra_attempts: 3,
            check_attempts: 3,
            limiter: None,
            output: None,
            ledger: None,
            budget: Budget::default(),
            tracker: Tracker::new(),
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
    /// labels and the trial's `seed` as members (see [`task_json`](Self::task_json)).
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

    /// The task: a JSON object, sent with each variant's `axis: value` members and the
    /// trial's `seed` (see [`Trial::seed`]) added.
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

    /// Chooses runtime, endpoint and payload per trial (instead of
    /// [`runtime`](Self::runtime) + [`task_json`](Self::task_json)); the contender's name is
    /// not used. Put [`Trial::seed`] in the payload for reproducible retries. An error is
    /// reported on that trial's row.
    pub fn configure(
        mut self,
        f: impl Fn(&Trial<'_>) -> Result<Contender, Error> + Send + Sync + 'static,
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

    /// Sessions a run may take (default 3, at least 1): an infrastructure error before the
    /// agent produced any work (no reply bytes, no token usage) is tried again in a fresh
    /// session, the same trial (same seed); after that, or after the agent worked, the run is
    /// an `infra_error` row, left out of the pass rate.
    pub fn infra_attempts(mut self, n: u32) -> Self {
        self.infra_attempts = n.max(1);
        self
    }

    /// The former name of [`infra_attempts`](Self::infra_attempts).
    #[deprecated(note = "renamed infra_attempts")]
    pub fn start_attempts(self, n: u32) -> Self {
        self.infra_attempts(n)
    }

    /// At most `n` command starts per second for this bench: it can only lower the client's
    /// shared limiter of the runtime (the service's 25 per second), which every experiment
    /// and call through the client waits on too.
    pub fn commands_per_second(mut self, n: u32) -> Self {
        self.limiter = Some(Arc::new(CommandRateLimiter::per_second(n)));
        self
    }

    /// Also wait on this limiter (it can only lower the rate; the client's limiter of the
    /// runtime always applies).
    pub fn rate_limiter(mut self, limiter: Arc<CommandRateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The CSV file rows are appended to as runs finish. A re-run with the same file skips
    /// the runs it already holds (except `infra_error` rows, which run again).
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.output = Some(path.into());
        self
    }

    /// Records every session the bench starts, and whether its stop was acknowledged, in
    /// `ledger` (see [`ledger`](super::ledger)).
    pub fn ledger(mut self, ledger: Ledger) -> Self {
        self.ledger = Some(ledger.for_experiment("bench"));
        self
    }

    /// Limits that end the bench cleanly (see [`Budget`]).
    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// A handle that cancels the running bench: every session stopped (acknowledged) before
    /// [`CancelHandle::cancel`] returns, then [`run`](Self::run) returns its report with the
    /// runs cancelled as `infra_error` rows (cause `cancelled`).
    pub fn cancel_handle(&self) -> CancelHandle {
        self.tracker.handle()
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

    fn contender_for(&self, trial: &Trial<'_>) -> Result<Contender, Error> {
        if let Some(f) = &self.configure {
            return f(trial);
        }
        let Some(arn) = &self.runtime else {
            return Err(Error::InvalidInput {
                field: "runtime",
                rule: "a bench needs a runtime or a configure function".into(),
            });
        };
        let mut payload = self.task.clone();
        if let Some(obj) = payload.as_object_mut() {
            for (a, v) in trial.variant.labels() {
                obj.insert(a.clone(), serde_json::Value::String(v.clone()));
            }
            obj.insert("seed".into(), serde_json::Value::from(trial.seed()));
        }
        Contender::new(trial.key(), arn.clone())?.json(&payload)
    }

    /// Runs every (variant, repeat) not already in the output file and reports. Errors for
    /// a bench that cannot start (no check, no axis values, an unreadable output file);
    /// each run's outcome is in its row, and every run has a row.
    ///
    /// Dropping the future part-way stops the sessions of the runs in flight (best effort,
    /// on the current tokio runtime; with a [`ledger`](Self::ledger) what it could not stop
    /// stays listed there); rows already appended to the output file stay, and a re-run skips
    /// them. To stop and wait for the stops, use [`cancel_handle`](Self::cancel_handle).
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
        let started_at = SystemTime::now();
        let mut done: BTreeMap<(String, usize), BenchRun> = BTreeMap::new();
        if let Some(path) = &self.output {
            for r in read_rows(path)? {
                if r.outcome.is_valid() {
                    done.insert((r.variant.clone(), r.repeat), r);
                }
            }
            write_rows(path, done.values())?;
        }
        let todo: Vec<(Variant, usize)> = variants
            .iter()
            .flat_map(|v| (0..self.repeats).map(move |r| (v.clone(), r)))
            .filter(|(v, r)| !done.contains_key(&(v.key(), *r)))
            .collect();
        let ran = todo.len();
        self.tracker
            .configure(self.ledger.clone(), self.budget.get_max_sessions());
        let guard = self.tracker.drop_guard();
        let this = &self;
        let check = &check;
        let cost_so_far = std::sync::Mutex::new(0.0f64);
        let cost_so_far = &cost_so_far;
        let runs = futures::stream::iter(todo)
            .map(|(variant, repeat)| async move {
                let (row, trajectory) = this.one(&variant, repeat, check).await;
                if let Some(f) = &this.on_run {
                    f(&row);
                }
                if let Some(path) = &this.output {
                    // Rows are appended as they finish, so a killed bench keeps them.
                    if let Err(e) = append_row(path, &row) {
                        tracing::warn!(error = %e, "bench: cannot append a row to the output file");
                    }
                }
                if let (Some(max), Ok(mut spent)) = (this.budget.get_max_cost(), cost_so_far.lock())
                {
                    *spent += row.cost;
                    if *spent >= max {
                        this.tracker
                            .close(format!("cost budget reached ({:.4} of {max})", *spent));
                    }
                }
                (row, trajectory)
            })
            .buffer_unordered(self.concurrency)
            .collect::<Vec<_>>();
        tokio::pin!(runs);
        let wall = async {
            match self.budget.get_wall_clock() {
                Some(d) => tokio::time::sleep(d).await,
                None => futures::future::pending().await,
            }
        };
        tokio::pin!(wall);
        let mut wall_done = false;
        let new_rows = loop {
            tokio::select! {
                rows = &mut runs => break rows,
                () = &mut wall, if !wall_done => {
                    wall_done = true;
                    self.tracker.close("wall-clock budget reached");
                }
            }
        };
        // Whatever a run could not stop gets one more try, all at once.
        let sessions_not_stopped = self.tracker.stop_live().await;
        guard.disarm();
        let order: HashMap<String, usize> = variants
            .iter()
            .enumerate()
            .map(|(i, v)| (v.key(), i))
            .collect();
        let mut trajectories = BTreeMap::new();
        let mut runs: Vec<BenchRun> = done.into_values().collect();
        for (row, trajectory) in new_rows {
            if let Some(t) = trajectory {
                trajectories.insert((row.variant.clone(), row.repeat), t);
            }
            runs.push(row);
        }
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
            started_at: rfc3339(started_at),
            finished_at: rfc3339(SystemTime::now()),
            ended_early: self.tracker.closed(),
            sessions_not_stopped,
            sessions_started: self.tracker.sessions_started(),
            trajectories,
        })
    }

    /// One run: tried in a fresh session while an infrastructure error came before the agent
    /// worked, within [`infra_attempts`](Self::infra_attempts).
    async fn one(
        &self,
        variant: &Variant,
        repeat: usize,
        check: &Command,
    ) -> (BenchRun, Option<serde_json::Value>) {
        let now = rfc3339(SystemTime::now());
        let mut row = BenchRun {
            variant: variant.key(),
            repeat,
            session_id: String::new(),
            outcome: Outcome::InfraError,
            cause: Cause::None,
            wall_ms: 0.0,
            invoke_ms: 0.0,
            check_ms: 0.0,
            tests_passed: 0,
            tests_total: 0,
            test_score: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            reply_bytes: 0,
            cost: 0.0,
            tries: 0,
            started_at: now.clone(),
            finished_at: now,
            error: String::new(),
        };
        let trial = Trial { variant, repeat };
        let contender = match self.contender_for(&trial) {
            Ok(c) => c,
            Err(e) => {
                row.cause = Cause::Rejected;
                row.error = format!("configure: {e}");
                return (row, None);
            }
        };
        let mut errors: Vec<String> = Vec::new();
        let mut trajectory = None;
        loop {
            if let Some(why) = self.tracker.closed() {
                row.cause = Cause::Cancelled;
                errors.push(format!("not run: {why}"));
                break;
            }
            let mut session = Session::new(
                self.client.clone(),
                contender.arn().clone(),
                SessionId::generate(),
            );
            // Registers the service's quota for this runtime in the client, shared by every
            // experiment and call through it.
            let _ = self.client.command_rate_limiter(contender.arn());
            if let Some(l) = &self.limiter {
                session = session.with_rate_limiter(l.clone());
            }
            if let Some(q) = contender.qualifier_ref() {
                session = session.with_qualifier(q);
            }
            match self.tracker.start(&session).await {
                Ok(()) => {}
                Err(StartError::Refused(Refused::Closed(why))) => {
                    row.cause = Cause::Cancelled;
                    errors.push(format!("not run: {why}"));
                    break;
                }
                Err(StartError::Refused(Refused::SessionBudget)) => {
                    row.cause = Cause::SessionBudget;
                    errors.push("not run: session budget spent".into());
                    break;
                }
                Err(StartError::Ledger(e)) => {
                    row.cause = Cause::LocalIo;
                    errors.push(e.to_string());
                    break;
                }
            }
            row.tries = row.tries.saturating_add(1);
            row.session_id = session.id().as_str().to_owned();
            row.started_at = rfc3339(SystemTime::now());
            let t0 = Instant::now();
            let result = tokio::select! {
                r = self.attempt(&session, contender.payload_or_empty(), check, &mut row) => r,
                () = self.tracker.token().cancelled() => Err(Failure {
                    error: Error::InvalidInput { field: "run", rule: "cancelled".into() },
                    worked: true,
                }),
            };
            row.wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
            self.tracker.stop(&session).await;
            row.finished_at = rfc3339(SystemTime::now());
            let tokens = (row.input_tokens > 0 || row.output_tokens > 0).then_some(TokenUsage {
                input: row.input_tokens,
                output: row.output_tokens,
            });
            row.cost += self.cost.cost(&RunUsage {
                variant,
                wall: t0.elapsed(),
                tokens,
            });
            match result {
                Ok(t) => {
                    trajectory = t;
                    row.cause = Cause::None;
                    break;
                }
                Err(f) if self.tracker.token().is_cancelled() && f.worked => {
                    row.outcome = Outcome::InfraError;
                    row.cause = Cause::Cancelled;
                    errors.push(format!(
                        "cancelled: {}",
                        self.tracker.closed().unwrap_or_default()
                    ));
                    break;
                }
                Err(f) => {
                    let (outcome, cause) = super::outcome::classify(&f.error);
                    row.outcome = outcome;
                    row.cause = cause;
                    errors.push(f.error.to_string());
                    let retry = outcome == Outcome::InfraError
                        && cause.is_transient()
                        && !f.worked
                        && row.tries < self.infra_attempts;
                    if !retry {
                        break;
                    }
                    tracing::debug!(variant = %row.variant, repeat, error = %f.error, "bench: infrastructure error before the agent worked; the same trial again in a fresh session");
                }
            }
        }
        if row.outcome == Outcome::InfraError || row.outcome == Outcome::AgentError {
            row.error = errors.join(" | ");
        } else if !errors.is_empty() {
            row.error = format!("retried after: {}", errors.join(" | "));
        }
        (row, trajectory)
    }

    /// Setup, invoke, check (the check tried again in the same session after an
    /// infrastructure error: it is ours, and the agent's work is on disk).
    async fn attempt(
        &self,
        session: &Session,
        payload: Bytes,
        check: &Command,
        row: &mut BenchRun,
    ) -> Result<Option<serde_json::Value>, Failure> {
        let fail = |worked: bool| move |error: Error| Failure { error, worked };
        if let Some(setup) = &self.setup {
            setup(session.clone()).await.map_err(fail(false))?;
        }
        let t = Instant::now();
        let response = session.invoke(payload).send().await.map_err(fail(false))?;
        let reply = read_reply(response)
            .await
            .map_err(|(error, bytes)| Failure {
                error,
                worked: bytes > 0,
            })?;
        row.invoke_ms = t.elapsed().as_secs_f64() * 1000.0;
        row.reply_bytes = reply.bytes;
        let json = reply.json();
        if let Some(t) = reply
            .complete()
            .then(|| TokenUsage::from_json_reply(&reply.kept))
            .flatten()
        {
            row.input_tokens = t.input;
            row.output_tokens = t.output;
        }
        let trajectory = json.as_ref().and_then(trajectory_of);
        let t = Instant::now();
        let mut tries = 0u32;
        let out = loop {
            tries = tries.saturating_add(1);
            let out = match session.command(check.clone()).send().await {
                Ok(stream) => stream.output().await,
                Err(e) => Err(e),
            };
            match out {
                Ok(out) => break out,
                Err(e) => {
                    let (outcome, cause) = super::outcome::classify(&e);
                    if outcome != Outcome::InfraError
                        || !cause.is_transient()
                        || tries >= self.check_attempts
                    {
                        return Err(Failure {
                            error: e,
                            worked: true,
                        });
                    }
                }
            }
        };
        row.check_ms = t.elapsed().as_secs_f64() * 1000.0;
        let score = (self.score)(&out);
        row.tests_passed = score.passed;
        row.tests_total = score.total;
        row.test_score = score.rate();
        row.outcome = if out.success() {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        Ok(trajectory)
    }
}

fn io_error<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn csv_error(e: csv::Error) -> std::io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

fn read_rows(path: &Path) -> Result<Vec<BenchRun>, Error> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path, "read")(e)),
    };
    let mut rows = Vec::new();
    for r in csv::Reader::from_reader(file).deserialize::<BenchRun>() {
        match r {
            Ok(row) => rows.push(row),
            // A row cut short by a crash mid-append (or of an older format) is run again.
            Err(e) => {
                tracing::warn!(error = %e, "bench: skipping an unreadable row of the output file")
            }
        }
    }
    Ok(rows)
}

fn write_rows<'a>(path: &Path, rows: impl Iterator<Item = &'a BenchRun>) -> Result<(), Error> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut w = csv::Writer::from_path(&tmp).map_err(|e| io_error(&tmp, "write")(csv_error(e)))?;
    for r in rows {
        w.serialize(r)
            .map_err(|e| io_error(&tmp, "write")(csv_error(e)))?;
    }
    w.flush().map_err(io_error(&tmp, "write"))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(io_error(path, "replace"))
}

fn append_row(path: &Path, row: &BenchRun) -> Result<(), Error> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_error(path, "append to"))?;
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
    let mut w = csv::WriterBuilder::new()
        .has_headers(empty)
        .from_writer(file);
    w.serialize(row)
        .map_err(|e| io_error(path, "append to")(csv_error(e)))?;
    w.flush().map_err(io_error(path, "append to"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_one_progress_line() {
        let mut run = BenchRun {
            variant: "harness=claude model=opus".into(),
            repeat: 2,
            session_id: "s".into(),
            outcome: Outcome::Passed,
            cause: Cause::None,
            wall_ms: 1532.4,
            invoke_ms: 0.0,
            check_ms: 0.0,
            tests_passed: 3,
            tests_total: 3,
            test_score: 1.0,
            input_tokens: 0,
            output_tokens: 0,
            reply_bytes: 0,
            cost: 0.0125,
            tries: 1,
            started_at: String::new(),
            finished_at: String::new(),
            error: String::new(),
        };
        assert_eq!(
            run.to_string(),
            "harness=claude model=opus      #2  passed         1532 ms  3/3 tests  cost 0.01250"
        );
        run.outcome = Outcome::InfraError;
        run.cause = Cause::Throttled;
        run.error = "throttled twice".into();
        assert!(
            run.to_string().ends_with(
                "infra_error    1532 ms  3/3 tests  cost 0.01250  (throttled: throttled twice)"
            ),
            "{run}"
        );
    }

    #[test]
    fn seeds_are_per_trial_and_json_safe() {
        assert_eq!(trial_seed("a=1", 0), trial_seed("a=1", 0));
        assert_ne!(trial_seed("a=1", 0), trial_seed("a=1", 1));
        assert_ne!(trial_seed("a=1", 0), trial_seed("a=2", 0));
        assert!(trial_seed("a=1", 7) < 1 << 53);
    }

    /// An unwritable output is an I/O error naming the file (it used to be
    /// `InvalidInput { field: "output" }`).
    #[test]
    fn output_failures_are_io_errors() {
        let dir = std::path::Path::new("/nonexistent-dir-for-agentcore-tests");
        let e = append_row(&dir.join("bench.csv"), &sample()).unwrap_err();
        assert!(
            matches!(&e, Error::Io { action: "append to", path, .. } if path.ends_with("bench.csv")),
            "{e:?}"
        );
    }

    fn sample() -> BenchRun {
        BenchRun {
            variant: "m=a".into(),
            repeat: 0,
            session_id: String::new(),
            outcome: Outcome::Passed,
            cause: Cause::None,
            wall_ms: 1.0,
            invoke_ms: 0.0,
            check_ms: 0.0,
            tests_passed: 1,
            tests_total: 1,
            test_score: 1.0,
            input_tokens: 0,
            output_tokens: 0,
            reply_bytes: 0,
            cost: 0.0,
            tries: 1,
            started_at: String::new(),
            finished_at: String::new(),
            error: String::new(),
        }
    }

    /// The table counts valid trials only, shows the Wilson interval and says what was left
    /// out and why.
    #[test]
    fn the_table_counts_valid_trials_and_names_exclusions() {
        let row = |outcome, cause| BenchRun {
            outcome,
            cause,
            ..sample()
        };
        let report = BenchReport {
            runs: vec![
                row(Outcome::Passed, Cause::None),
                row(Outcome::Failed, Cause::None),
                row(Outcome::AgentError, Cause::AgentFailed),
                row(Outcome::InfraError, Cause::Throttled),
                row(Outcome::InfraError, Cause::CutStream),
            ],
            ran: 5,
            wall_time_ms: 0.0,
            started_at: String::new(),
            finished_at: String::new(),
            ended_early: None,
            sessions_not_stopped: Vec::new(),
            sessions_started: 5,
            trajectories: BTreeMap::new(),
        };
        let s = &report.aggregate()[0];
        assert_eq!(
            (s.runs, s.valid, s.passed, s.agent_errors, s.infra_errors),
            (5, 3, 1, 1, 2)
        );
        assert!((s.pass_rate - 1.0 / 3.0).abs() < 1e-9);
        let table = report.table();
        assert!(table.contains("valid"), "{table}");
        assert!(
            table.contains(
                "excluded: 2 runs with infrastructure errors (cut_stream ×1, throttled ×1)"
            ),
            "{table}"
        );
    }
}
