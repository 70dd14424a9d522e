//! Results other tools read: a bench as a job directory in the layout of
//! [Harbor](https://harborframework.com) (the Terminal-Bench harness), and a race winner's
//! diff as a SWE-bench prediction.
//!
//! The job directory (Harbor's `JobResult` / `TrialResult` / ATIF models, schema version 1,
//! as published in the `harbor` package; `tests/tests/harbor_format.rs` validates our output
//! with them):
//!
//! ```text
//! <job>/config.json                 job configuration (job_name, n_attempts, agents, tasks)
//! <job>/result.json                 JobResult: totals and per agent × model stats
//! <job>/<trial>/config.json         TrialConfig
//! <job>/<trial>/result.json         TrialResult: agent, tokens, cost, reward, exception
//! <job>/<trial>/agent/trajectory.json   the agent's ATIF trajectory, when its reply had one
//! <job>/<trial>/verifier/reward.txt     the verifier's reward (1 passed, 0 not), valid trials
//! ```
//!
//! Agent and model come from the variant's `harness` (or `agent`) and `model` axes (else the
//! variant key). Outcomes map to Harbor's error policy: an agent error is a
//! `NonZeroAgentExitCodeError` with reward 0 (a valid trial, as in our pass rate), a
//! cancellation a `CancelledError`, any other infrastructure error a `RuntimeRequestError`
//! with no reward (left out, as in our pass rate), the cause at the head of its message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::bench::{BenchReport, BenchRun};
use super::outcome::{Cause, Outcome};
use crate::error::Error;

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

fn write_json(path: &Path, value: &Value) -> Result<(), Error> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| Error::MalformedResponse {
        what: "a Harbor document cannot be encoded".into(),
        source: Some(Box::new(e)),
    })?;
    std::fs::write(path, text).map_err(io("write", path))
}

/// A file-system-safe trial directory name part.
fn slug(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(120);
    out
}

/// Agent name and model of a run: its `harness` / `agent` and `model` labels.
fn agent_and_model(variant: &str) -> (String, Option<String>) {
    let label = |axis: &str| {
        variant
            .split(' ')
            .find_map(|kv| kv.strip_prefix(axis)?.strip_prefix('=').map(str::to_owned))
    };
    let agent = label("harness")
        .or_else(|| label("agent"))
        .unwrap_or_else(|| variant.to_owned());
    (agent, label("model"))
}

/// The trial directory name of a run.
pub fn trial_name(task: &str, run: &BenchRun) -> String {
    format!("{}__{}__{}", slug(task), slug(&run.variant), run.repeat)
}

fn exception_of(run: &BenchRun) -> Option<Value> {
    let kind = match (run.outcome, run.cause) {
        (Outcome::AgentError, _) => "NonZeroAgentExitCodeError",
        (Outcome::InfraError, Cause::Cancelled) => "CancelledError",
        (Outcome::InfraError, _) => "RuntimeRequestError",
        _ => return None,
    };
    Some(json!({
        "exception_type": kind,
        "exception_message": format!("{}: {}", run.cause, run.error),
        "exception_traceback": "",
        "occurred_at": non_empty(&run.finished_at),
    }))
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

/// The reward of a valid trial: 1 passed, 0 not (agent errors score 0).
fn reward_of(run: &BenchRun) -> Option<i64> {
    match run.outcome {
        Outcome::Passed => Some(1),
        Outcome::Failed | Outcome::AgentError => Some(0),
        Outcome::InfraError => None,
    }
}

/// Where and how [`BenchReport::write_harbor_job`] writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HarborJob {
    /// The job name (`job_name`).
    pub job_name: String,
    /// The task every trial ran (`task_name`; a trial directory starts with it).
    pub task_name: String,
    /// The agent version recorded for every trial.
    pub agent_version: String,
}

impl HarborJob {
    /// A job named `job_name` whose trials ran `task_name`.
    pub fn new(job_name: impl Into<String>, task_name: impl Into<String>) -> Self {
        Self {
            job_name: job_name.into(),
            task_name: task_name.into(),
            agent_version: "unknown".into(),
        }
    }

    /// The agent version recorded for every trial.
    pub fn agent_version(mut self, v: impl Into<String>) -> Self {
        self.agent_version = v.into();
        self
    }
}

impl BenchReport {
    /// Writes the bench as a Harbor job directory `dir` (created, files replaced), see the
    /// [module documentation](self). Returns the trial directories written.
    pub fn write_harbor_job(
        &self,
        dir: impl AsRef<Path>,
        job: &HarborJob,
    ) -> Result<Vec<PathBuf>, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let abs = std::fs::canonicalize(dir).map_err(io("resolve", dir))?;
        let job_id = uuid::Uuid::new_v4().to_string();
        let mut trials = Vec::new();
        let mut agents: Vec<Value> = Vec::new();
        let mut evals: BTreeMap<String, EvalStats> = BTreeMap::new();
        let (mut n_errored, mut n_cancelled, mut n_retries) = (0usize, 0usize, 0u64);
        let (mut tokens_in, mut tokens_out, mut cost) = (0u64, 0u64, 0.0f64);
        for run in &self.runs {
            let name = trial_name(&job.task_name, run);
            let tdir = dir.join(&name);
            let (agent, model) = agent_and_model(&run.variant);
            let agent_config = json!({ "name": agent, "model_name": model });
            if !agents.contains(&agent_config) {
                agents.push(agent_config.clone());
            }
            let trial_config = json!({
                "task": { "path": job.task_name },
                "trial_name": name,
                "trials_dir": abs.to_string_lossy(),
                "job_id": job_id,
                "agent": agent_config,
            });
            for sub in ["agent", "verifier"] {
                let d = tdir.join(sub);
                std::fs::create_dir_all(&d).map_err(io("create", &d))?;
            }
            write_json(&tdir.join("config.json"), &trial_config)?;
            let reward = reward_of(run);
            if let Some(r) = reward {
                let p = tdir.join("verifier").join("reward.txt");
                std::fs::write(&p, r.to_string()).map_err(io("write", &p))?;
            }
            if let Some(t) = self.trajectories.get(&(run.variant.clone(), run.repeat)) {
                write_json(&tdir.join("agent").join("trajectory.json"), t)?;
            }
            let exception = exception_of(run);
            let result = json!({
                "schema_version": 1,
                "id": uuid::Uuid::new_v4().to_string(),
                "task_name": job.task_name,
                "trial_name": name,
                "trial_uri": format!("file://{}", abs.join(&name).to_string_lossy()),
                "task_id": { "path": job.task_name },
                "source": Value::Null,
                "task_checksum": "",
                "config": trial_config,
                "agent_info": {
                    "name": agent,
                    "version": job.agent_version,
                    "model_info": model.as_ref().map(|m| json!({ "name": m, "provider": Value::Null })),
                },
                "agent_result": {
                    "n_input_tokens": run.input_tokens,
                    "n_cache_tokens": Value::Null,
                    "n_output_tokens": run.output_tokens,
                    "cost_usd": run.cost,
                    "metadata": {
                        "variant": run.variant,
                        "repeat": run.repeat,
                        "session_id": run.session_id,
                        "outcome": run.outcome,
                        "cause": run.cause,
                        "tries": run.tries,
                        "wall_ms": run.wall_ms,
                        "invoke_ms": run.invoke_ms,
                        "check_ms": run.check_ms,
                        "tests_passed": run.tests_passed,
                        "tests_total": run.tests_total,
                        "reply_bytes": run.reply_bytes,
                    },
                },
                "verifier_result": reward.map(|r| json!({ "rewards": { "reward": r } })),
                "exception_info": exception,
                "started_at": non_empty(&run.started_at),
                "finished_at": non_empty(&run.finished_at),
            });
            write_json(&tdir.join("result.json"), &result)?;
            // The job's stats, as Harbor's JobStats computes them from the trial results.
            let key = match &model {
                Some(m) => format!("{agent}__{m}__adhoc"),
                None => format!("{agent}__adhoc"),
            };
            let e = evals.entry(key).or_default();
            if let Some(r) = reward {
                e.n_trials = e.n_trials.saturating_add(1);
                e.rewards.entry(r).or_default().push(name.clone());
            }
            if let Some(x) = &result.get("exception_info").filter(|v| !v.is_null()) {
                let kind = x["exception_type"].as_str().unwrap_or_default().to_owned();
                e.n_errors = e.n_errors.saturating_add(1);
                e.exceptions
                    .entry(kind.clone())
                    .or_default()
                    .push(name.clone());
                n_errored = n_errored.saturating_add(1);
                if kind == "CancelledError" {
                    n_cancelled = n_cancelled.saturating_add(1);
                }
            }
            n_retries = n_retries.saturating_add(u64::from(run.tries.saturating_sub(1)));
            tokens_in = tokens_in.saturating_add(run.input_tokens);
            tokens_out = tokens_out.saturating_add(run.output_tokens);
            cost += run.cost;
            trials.push(tdir);
        }
        let evals: serde_json::Map<String, Value> = evals
            .into_iter()
            .map(|(k, e)| {
                let passed = e.rewards.get(&1).map_or(0, Vec::len);
                let mean = if e.n_trials == 0 {
                    0.0
                } else {
                    passed as f64 / e.n_trials as f64
                };
                let rewards: serde_json::Map<String, Value> = e
                    .rewards
                    .into_iter()
                    .map(|(r, names)| (r.to_string(), json!(names)))
                    .collect();
                (
                    k,
                    json!({
                        "n_trials": e.n_trials,
                        "n_errors": e.n_errors,
                        "metrics": [{ "mean": mean }],
                        "pass_at_k": {},
                        "reward_stats": { "reward": rewards },
                        "exception_stats": e.exceptions,
                    }),
                )
            })
            .collect();
        let n = self.runs.len();
        write_json(
            &dir.join("config.json"),
            &json!({
                "job_name": job.job_name,
                "jobs_dir": abs.parent().map(|p| p.to_string_lossy().into_owned()),
                "n_attempts": self.runs.iter().map(|r| r.repeat.saturating_add(1)).max().unwrap_or(1),
                "agents": agents,
                "tasks": [{ "path": job.task_name }],
            }),
        )?;
        write_json(
            &dir.join("result.json"),
            &json!({
                "schema_version": 1,
                "id": job_id,
                "started_at": non_empty(&self.started_at),
                "updated_at": non_empty(&self.finished_at),
                "finished_at": non_empty(&self.finished_at),
                "n_total_trials": n,
                "stats": {
                    "n_completed_trials": n,
                    "n_errored_trials": n_errored,
                    "n_running_trials": 0,
                    "n_pending_trials": 0,
                    "n_cancelled_trials": n_cancelled,
                    "n_retries": n_retries,
                    "evals": evals,
                    "n_input_tokens": tokens_in,
                    "n_cache_tokens": Value::Null,
                    "n_output_tokens": tokens_out,
                    "cost_usd": cost,
                },
                "trial_results": [],
            }),
        )?;
        Ok(trials)
    }
}

#[derive(Default)]
struct EvalStats {
    n_trials: usize,
    n_errors: usize,
    rewards: BTreeMap<i64, Vec<String>>,
    exceptions: BTreeMap<String, Vec<String>>,
}

/// One SWE-bench prediction: the patch a model produced for an instance, as the SWE-bench
/// evaluation harness reads it (`--predictions_path`, JSON Lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SweBenchPrediction {
    /// The task instance, e.g. `astropy__astropy-12907`.
    pub instance_id: String,
    /// Who made the patch (the winning contender).
    pub model_name_or_path: String,
    /// The patch, a unified diff (`git diff`).
    pub model_patch: String,
}

impl SweBenchPrediction {
    /// A prediction.
    pub fn new(
        instance_id: impl Into<String>,
        model_name_or_path: impl Into<String>,
        model_patch: impl Into<String>,
    ) -> Self {
        Self {
            instance_id: instance_id.into(),
            model_name_or_path: model_name_or_path.into(),
            model_patch: model_patch.into(),
        }
    }

    /// Appends this prediction as one JSON line to `path` (created when missing).
    pub fn append_to(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        use std::io::Write;
        let path = path.as_ref();
        let mut line = serde_json::to_vec(self).map_err(|e| Error::MalformedResponse {
            what: "a prediction cannot be encoded".into(),
            source: Some(Box::new(e)),
        })?;
        line.push(b'\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(&line))
            .map_err(io("append to", path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_agent_and_model() {
        assert_eq!(
            agent_and_model("harness=codex model=sonnet"),
            ("codex".into(), Some("sonnet".into()))
        );
        assert_eq!(agent_and_model("x=1"), ("x=1".into(), None));
        assert_eq!(slug("harness=a b/c"), "harness-a-b-c");
    }
}
