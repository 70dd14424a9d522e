//! The spec file of `race`, `bench` and `watch` (TOML). Documented in docs/CLI.md; samples
//! in agentcore-cli/specs/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// A spec file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Runtime of the sessions (name, id or ARN) unless a contender names its own.
    pub runtime: Option<String>,
    /// Endpoint (qualifier) of the runtime.
    pub qualifier: Option<String>,
    /// The task: a table (sent as a JSON object) or a string (sent as it is).
    pub task: Option<toml::Value>,
    /// A shell command run in each new session before the agent gets the task.
    pub setup: Option<String>,
    /// The check: a shell command whose exit code 0 means the task is done.
    pub check: Option<String>,
    /// Directory of the reports (default `.`), relative to the current directory.
    pub output: Option<PathBuf>,
    /// The session ledger, relative to `output` (default `sessions.ledger`).
    pub ledger: Option<PathBuf>,
    /// Give up after this many seconds.
    pub timeout: Option<u64>,
    /// Command starts per second across the experiment (default 25, the service's quota).
    pub commands_per_second: Option<u32>,
    /// Race settings.
    pub race: Option<RaceSpec>,
    /// The contenders of a race.
    #[serde(default)]
    pub contender: Vec<ContenderSpec>,
    /// Bench settings.
    pub bench: Option<BenchSpec>,
    /// Watch settings.
    pub watch: Option<WatchSpec>,
}

/// `[race]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaceSpec {
    /// Invocations per contender before it has lost (default 1).
    pub attempts: Option<usize>,
    /// Keep the winner's diff of this repository in the report.
    pub winner_diff: Option<String>,
    /// Push the winner's work.
    pub push: Option<PushSpec>,
    /// Leave the winner's session running (default: stopped).
    pub keep_winner_session: Option<bool>,
}

/// `[race.push]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSpec {
    /// The repository in the session.
    pub repo: String,
    /// The remote (default `origin`).
    #[serde(default = "origin")]
    pub remote: String,
    /// The refspec, e.g. `HEAD:refs/heads/fix`.
    pub refspec: String,
}

fn origin() -> String {
    "origin".into()
}

/// `[[contender]]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContenderSpec {
    /// Its name in the report.
    pub name: String,
    /// Its runtime (default: the spec's).
    pub runtime: Option<String>,
    /// Its endpoint (qualifier).
    pub qualifier: Option<String>,
    /// Members merged over the task's (a table), or its own payload (a string).
    pub payload: Option<toml::Value>,
}

/// `[bench]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchSpec {
    /// Runs per variant (default 1).
    pub repeats: Option<usize>,
    /// Runs at the same time (default 4).
    pub concurrency: Option<usize>,
    /// The axes, in order: each variant is one value of each.
    #[serde(default)]
    pub axis: Vec<AxisSpec>,
    /// Count passed and failed tests in the check's output (default: the exit code).
    pub score: Option<ScoreSpec>,
    /// Prices for the cost column.
    pub prices: Option<PricesSpec>,
    /// The Harbor job directory (default `bench-job`, job `bench`, task `task`).
    pub job: Option<JobSpec>,
    /// Stop after this many seconds.
    pub max_seconds: Option<u64>,
    /// Start at most this many sessions.
    pub max_sessions: Option<u64>,
    /// Stop once this much was spent.
    pub max_cost: Option<f64>,
    /// Tries of a run in fresh sessions after infrastructure errors (default: the SDK's).
    pub infra_attempts: Option<u32>,
}

/// `[[bench.axis]]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// The axis's name, a member of each run's payload.
    pub name: String,
    /// Its values.
    pub values: Vec<String>,
}

/// `[bench.score]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSpec {
    /// Lines starting with this count as passed tests.
    pub pass: String,
    /// Lines starting with this count as failed tests.
    pub fail: String,
}

/// `[bench.prices]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricesSpec {
    /// Price of a second of session.
    #[serde(default)]
    pub session_second: f64,
    /// Price of an input token (when the agent reports usage).
    #[serde(default)]
    pub input_token: f64,
    /// Price of an output token.
    #[serde(default)]
    pub output_token: f64,
    /// The axis whose value picks the token prices of `[bench.prices.tokens.VALUE]`.
    pub token_axis: Option<String>,
    /// Token prices per value of `token_axis`.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenPrices>,
}

/// `[bench.prices.tokens.VALUE]`.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPrices {
    /// Per input token.
    pub input: f64,
    /// Per output token.
    pub output: f64,
}

/// `[bench.job]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Directory, relative to `output` (default `bench-job`).
    pub dir: Option<PathBuf>,
    /// The job's name.
    pub name: Option<String>,
    /// The task's name.
    pub task: Option<String>,
}

/// `[watch]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSpec {
    /// The agent's log in the session (default `/mnt/workspace/agent.log`).
    pub log: Option<String>,
    /// The note file the agent reads (default `/mnt/workspace/NOTE.md`).
    pub note: Option<String>,
}

impl Spec {
    /// Reads and checks a spec file; every problem is one line naming the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| CliError::from(e).context(path.display()))?;
        toml::from_str(&text).map_err(|e| {
            CliError::new(format!(
                "{}: {}",
                path.display(),
                crate::error::one_line(&e)
            ))
        })
    }

    /// The task as JSON (`Null` when there is none).
    pub fn task_json(&self) -> Result<serde_json::Value> {
        match &self.task {
            None => Ok(serde_json::Value::Null),
            Some(v) => to_json(v),
        }
    }

    /// The check, required by race and bench.
    pub fn check(&self) -> Result<&str> {
        self.check
            .as_deref()
            .ok_or_else(|| CliError::new("the spec has no `check` (a shell command)"))
    }

    /// Where reports go: `--out`, else the spec's `output`, else `.`.
    pub fn output_dir(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| self.output.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// A TOML value as JSON.
pub fn to_json(v: &toml::Value) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| CliError::new(format!("the spec's task: {e}")))
}

/// The payload of a contender: the task's members with its own over them, or its own
/// payload when either is not a table.
pub fn merge(task: &serde_json::Value, own: Option<&serde_json::Value>) -> serde_json::Value {
    match (task, own) {
        (serde_json::Value::Object(t), Some(serde_json::Value::Object(o))) => {
            let mut m = t.clone();
            for (k, v) in o {
                m.insert(k.clone(), v.clone());
            }
            serde_json::Value::Object(m)
        }
        (_, Some(o)) => o.clone(),
        (t, None) => t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
        for name in ["race.toml", "bench.toml", "watch.toml"] {
            let spec = Spec::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(spec.task.is_some(), "{name}");
        }
        let race = Spec::load(&dir.join("race.toml")).unwrap();
        assert_eq!(race.contender.len(), 4);
        let bench = Spec::load(&dir.join("bench.toml")).unwrap();
        assert_eq!(bench.bench.unwrap().axis.len(), 2);
    }

    #[test]
    fn bad_specs_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.toml");
        std::fs::write(&p, "check = 3\n").unwrap();
        let e = Spec::load(&p).unwrap_err();
        assert!(
            e.message.starts_with(&p.display().to_string()),
            "{}",
            e.message
        );
        assert!(!e.message.contains('\n'), "{}", e.message);
        std::fs::write(&p, "chek = \"x\"\n").unwrap();
        let e = Spec::load(&p).unwrap_err();
        assert!(e.message.contains("chek"), "{}", e.message);
        let e = Spec::load(&dir.path().join("none.toml")).unwrap_err();
        assert!(e.message.contains("none.toml"), "{}", e.message);
    }

    #[test]
    fn contender_payloads_merge_over_the_task() {
        let task = serde_json::json!({"task": "fix", "quality": "right"});
        let own = serde_json::json!({"quality": "wrong", "delayMs": 5});
        assert_eq!(
            merge(&task, Some(&own)),
            serde_json::json!({"task": "fix", "quality": "wrong", "delayMs": 5})
        );
        assert_eq!(merge(&task, None), task);
        let s = serde_json::json!("raw");
        assert_eq!(merge(&task, Some(&s)), s);
    }
}
