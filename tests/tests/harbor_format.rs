//! Results other tools read: the Harbor job directory a bench writes is validated with
//! Harbor's own published models (the `harbor` package on PyPI, pinned: `JobResult`,
//! `JobConfig`, `TrialResult`, `TrialConfig`, the ATIF `Trajectory`), and Harbor's own
//! `JobStats.from_trial_results` must compute the stats we wrote. The race winner's
//! SWE-bench prediction has the documented fields and its patch applies to the task's
//! repository.

use agentcore_local::LocalRuntime;
use agentcore_sdk::workflow::bench::{Bench, Outcome, TestScore};
use agentcore_sdk::workflow::harbor::{HarborJob, SweBenchPrediction};
use agentcore_sdk::workflow::race::{Contender, Race};
use examples::experiments;
use tests::Fixture;

/// The Harbor release whose models validate our output.
const HARBOR: &str = "harbor==0.26.0";

async fn fixture() -> Fixture {
    let bin = tests::example_binary("race");
    Fixture::with(LocalRuntime::builder().agent_with_code(
        "*",
        "exec /var/task/race --agent-mode",
        bin,
    ))
    .await
}

/// A venv with Harbor's models. Harbor needs Python 3.12; its models also load on 3.11 with
/// `typing_extensions` standing in for two `typing` names (the validator does that), so
/// Harbor is installed without its dependencies, and the few its models import are added.
fn python_with_harbor() -> std::path::PathBuf {
    tests::venv_made_once("harbor-venv", "harbor-0.26.0", |python| {
        tests::pip_install(python, &["--no-deps", "--ignore-requires-python", HARBOR]);
        tests::pip_install(
            python,
            &[
                "pydantic>=2.14",
                "shortuuid",
                "toml",
                "pyyaml",
                "pathspec",
                "packaging",
                "typing_extensions",
            ],
        );
    })
}

const VALIDATE: &str = r#"
import json, pathlib, sys, typing, typing_extensions
# Harbor targets Python >= 3.12; on 3.11 pydantic needs typing_extensions' TypedDict.
typing.TypedDict = typing_extensions.TypedDict
if not hasattr(typing, "override"):
    typing.override = typing_extensions.override
from harbor.models.job.config import JobConfig
from harbor.models.job.result import JobResult, JobStats
from harbor.models.trajectories.trajectory import Trajectory
from harbor.models.trial.config import TrialConfig
from harbor.models.trial.result import TrialResult

job = pathlib.Path(sys.argv[1])
result = JobResult.model_validate_json((job / "result.json").read_text())
JobConfig.model_validate_json((job / "config.json").read_text())
trials, trajectories = [], 0
for d in sorted(p for p in job.iterdir() if p.is_dir()):
    t = TrialResult.model_validate_json((d / "result.json").read_text())
    TrialConfig.model_validate_json((d / "config.json").read_text())
    assert t.trial_name == d.name, (t.trial_name, d.name)
    tj = d / "agent" / "trajectory.json"
    if tj.exists():
        Trajectory.model_validate_json(tj.read_text())
        trajectories += 1
    reward = d / "verifier" / "reward.txt"
    if t.verifier_result is not None:
        assert float(reward.read_text()) == t.verifier_result.rewards["reward"], d
    else:
        assert not reward.exists(), d
    trials.append(t)
assert result.n_total_trials == len(trials)
# Harbor's own aggregation of our trial results gives the stats we wrote.
theirs = JobStats.from_trial_results(trials)
ours = result.stats
assert ours.n_completed_trials == theirs.n_completed_trials
assert ours.n_errored_trials == theirs.n_errored_trials, (ours, theirs)
assert ours.n_cancelled_trials == theirs.n_cancelled_trials
assert sorted(ours.evals) == sorted(theirs.evals), (ours.evals.keys(), theirs.evals.keys())
for key, e in theirs.evals.items():
    o = ours.evals[key]
    assert (o.n_trials, o.n_errors) == (e.n_trials, e.n_errors), key
    norm = lambda rs: {float(r): sorted(n) for r, n in rs.get("reward", {}).items()}
    assert norm(o.reward_stats) == norm(e.reward_stats), key
    assert {k: sorted(v) for k, v in o.exception_stats.items()} == {
        k: sorted(v) for k, v in e.exception_stats.items()
    }, key
print(json.dumps({
    "trials": len(trials),
    "trajectories": trajectories,
    "reward_valid": sum(t.reward_valid for t in trials),
    "errors": sorted(t.exception_info.exception_type for t in trials if t.exception_info),
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_job_directory_validates_with_harbors_models() {
    let f = fixture().await;
    let arn = f.arn.clone();
    let report = Bench::builder(&f.client)
        .axis("harness", ["codex", "aider"])
        .axis("model", ["sonnet", "garbage", "broken"])
        .configure(move |t| {
            let payload = match t.get("model") {
                Some("broken") => {
                    return Err(agentcore_sdk::Error::InvalidInput {
                        field: "model",
                        rule: "no such model".into(),
                    });
                }
                Some("garbage") => serde_json::json!({ "quality": "garbage" }),
                model => serde_json::json!({
                    "harness": t.get("harness"), "model": model, "seed": t.seed(),
                }),
            };
            agentcore_sdk::workflow::race::Contender::new(t.key(), &arn)?.json(&payload)
        })
        .setup(experiments::seed)
        .check(experiments::CHECK)
        .score(|out| TestScore::count_lines(&out.stdout, "PASS", "FAIL"))
        .run()
        .await
        .unwrap();
    let count = |o: Outcome| report.runs.iter().filter(|r| r.outcome == o).count();
    assert_eq!(count(Outcome::AgentError), 2, "{}", report.to_csv());
    assert_eq!(count(Outcome::InfraError), 2, "{}", report.to_csv());
    assert_eq!(
        report.trajectories.len(),
        2,
        "the sonnet runs returned trajectories"
    );
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job");
    let trials = report
        .write_harbor_job(&job, &HarborJob::new("test-job", "calc-sh"))
        .unwrap();
    assert_eq!(trials.len(), 6);
    let out = std::process::Command::new(python_with_harbor())
        .arg("-c")
        .arg(VALIDATE)
        .arg(&job)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Harbor's models refused our job directory:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["trials"], 6);
    assert_eq!(v["trajectories"], 2);
    // Passed/failed and agent errors carry a valid reward (as in our pass rate); the two
    // infrastructure errors do not.
    assert_eq!(v["reward_valid"], 4);
    assert_eq!(
        v["errors"],
        serde_json::json!([
            "NonZeroAgentExitCodeError",
            "NonZeroAgentExitCodeError",
            "RuntimeRequestError",
            "RuntimeRequestError"
        ])
    );
}

/// SWE-bench's predictions file: JSON Lines of `instance_id`, `model_name_or_path` and
/// `model_patch` (as its evaluation harness documents; no schema is published). The patch
/// must apply to the task's repository as it was before the agent worked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_race_winner_becomes_a_swe_bench_prediction_whose_patch_applies() {
    let f = fixture().await;
    let report = Race::builder(&f.client)
        .contender_with(
            Contender::new("fixer", &f.arn)
                .unwrap()
                .json(&serde_json::json!({ "quality": "right", "delayMs": 100 }))
                .unwrap(),
        )
        .setup(experiments::seed)
        .check(experiments::CHECK)
        .winner_diff("/mnt/workspace/repo")
        .run()
        .await
        .unwrap();
    let prediction = report
        .swe_bench_prediction("calc__calc-1")
        .expect("a winner and its diff");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predictions.jsonl");
    prediction.append_to(&path).unwrap();
    prediction.append_to(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["instance_id", "model_name_or_path", "model_patch"]);
        assert!(obj.values().all(serde_json::Value::is_string));
        let back: SweBenchPrediction = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, prediction);
    }
    assert_eq!(prediction.model_name_or_path, "fixer");
    assert!(
        prediction.model_patch.contains("calc.sh"),
        "{}",
        prediction.model_patch
    );
    // The patch applies to the repository the agent started from.
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("calc.sh"), examples::coding::CALC_SH).unwrap();
    std::fs::write(repo.join("patch.diff"), &prediction.model_patch).unwrap();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(&repo)
            .args(args)
            .output()
            .unwrap()
    };
    let applied = git(&["apply", "--check", "patch.diff"]);
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
}
