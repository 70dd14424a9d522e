//! The fleet experiments when things go wrong, on agentcore-local playing the service's
//! faults and rules: a bench under a 10% fault plan keeps every run and the fault-free pass
//! rate; a race under faults still picks the true first winner; a bench killed mid-way
//! leaves nothing after `stop_all` from its ledger; Ctrl-C on the examples leaves nothing;
//! two benches on one runtime stay under the service's 25 commands per second together.

use std::time::{Duration, Instant};

use agentcore_local::{FaultPlan, LocalRuntime};
use agentcore_sdk::Client;
use agentcore_sdk::workflow::bench::{Bench, Outcome, TestScore};
use agentcore_sdk::workflow::race::{Contender, ContenderStatus, Race};
use agentcore_sdk::workflow::{Ledger, stop_all};
use examples::experiments;
use tests::Fixture;

/// A local runtime hosting the experiments agent (the `race` example in `--agent-mode`).
async fn fixture(builder: agentcore_local::LocalRuntimeBuilder) -> Fixture {
    let bin = tests::example_binary("race");
    Fixture::with(builder.agent_with_code("*", "exec /var/task/race --agent-mode", bin)).await
}

async fn until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bench(client: &Client, arn: &agentcore_sdk::RuntimeArn) -> Bench {
    Bench::builder(client)
        .axis("harness", ["claude-code", "codex", "aider"])
        .axis("model", ["sonnet", "haiku"])
        .repeats(3)
        .runtime(arn)
        .task_json(&serde_json::json!({ "task": "make the tests pass" }))
        .unwrap()
        .setup(experiments::seed)
        .check(experiments::CHECK)
        .score(|out| TestScore::count_lines(&out.stdout, "PASS", "FAIL"))
        .infra_attempts(10)
        .concurrency(6)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bench_under_a_10_percent_fault_plan_keeps_every_run_and_the_fault_free_pass_rate() {
    let clean = fixture(LocalRuntime::builder()).await;
    let baseline = bench(&clean.client, &clean.arn).run().await.unwrap();
    assert_eq!(
        clean.local.service_stats().injected_cuts,
        0,
        "no faults here"
    );
    let faulty = fixture(LocalRuntime::builder().faults(FaultPlan::uniform(0.10, 21))).await;
    // The client retries throttling, 409 and 5xx itself (through the limiter); cut streams
    // reach the bench, which retries the same trial in a fresh session.
    let report = bench(&faulty.client, &faulty.arn).run().await.unwrap();
    let stats = faulty.local.service_stats();
    eprintln!("{}\n{stats:?}", report.table());
    // Every run is in the table, every one a valid trial: the faults were retried.
    assert_eq!(report.runs.len(), 18);
    assert!(
        report.runs.iter().all(|r| r.outcome.is_valid()),
        "{}",
        report.to_csv()
    );
    let injected = stats.injected_throttles
        + stats.injected_conflicts
        + stats.injected_server_errors
        + stats.injected_cuts;
    assert!(injected >= 3, "the plan injected faults: {stats:?}");
    // Retried infrastructure errors are labelled on their rows, with their cause.
    let retried: Vec<_> = report.runs.iter().filter(|r| r.tries > 1).collect();
    assert!(!retried.is_empty(), "{}", report.to_csv());
    for r in &retried {
        assert!(r.error.starts_with("retried after: "), "{r:?}");
    }
    // Seeded per trial: the same trials pass as without faults.
    assert_eq!(report.pass_rate().passed, baseline.pass_rate().passed);
    assert_eq!(report.pass_rate().valid, baseline.pass_rate().valid);
    for (a, b) in report.runs.iter().zip(&baseline.runs) {
        assert_eq!(
            (&a.variant, a.repeat, a.outcome),
            (&b.variant, b.repeat, b.outcome)
        );
    }
    assert!(
        report.table().contains("excluded: none"),
        "{}",
        report.table()
    );
    assert!(report.sessions_not_stopped.is_empty());
    until("every session stopped", Duration::from_secs(10), || {
        faulty.local.running_sessions() == 0
    })
    .await;
}

fn contender(f: &Fixture, name: &str, quality: &str, delay_ms: u64) -> Contender {
    Contender::new(name, &f.arn)
        .unwrap()
        .json(&serde_json::json!({ "quality": quality, "delayMs": delay_ms }))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_under_faults_still_picks_the_true_first_winner() {
    let f = fixture(LocalRuntime::builder().faults(FaultPlan::uniform(0.10, 5))).await;
    let report = Race::builder(&f.client)
        // fast-right's lead leaves room for the other two to end first even when their
        // sessions start slowly (2 s each under the plan) and their calls are retried; and
        // slow-right trails far enough for fast-right to be tried again in fresh sessions
        // (a cut stream or a 5xx on its 6 s invocation; CI once saw it win at 17 s when
        // slow-right's delay was 15 s). slow-right is cancelled at the win: the test takes
        // fast-right's time either way.
        .contender_with(contender(&f, "slow-right", "right", 45000))
        .contender_with(contender(&f, "fast-right", "right", 6000))
        .contender_with(contender(&f, "faster-wrong", "wrong", 300))
        .contender_with(contender(&f, "garbage", "garbage", 200))
        .setup(experiments::seed)
        .check(experiments::CHECK)
        .infra_attempts(10)
        .run()
        .await
        .unwrap();
    eprintln!("{}\n{:?}", report.table(), f.local.service_stats());
    assert_eq!(
        report.winner.as_deref(),
        Some("fast-right"),
        "{}",
        report.table()
    );
    let status = |n: &str| report.contenders.iter().find(|c| c.name == n).unwrap();
    assert_eq!(status("slow-right").status, ContenderStatus::Cancelled);
    assert_eq!(status("faster-wrong").status, ContenderStatus::Lost);
    // An agent answering 500 is the agent's error, not ours.
    assert_eq!(status("garbage").status, ContenderStatus::AgentError);
    assert!(report.sessions_not_stopped.is_empty());
    until("every session stopped", Duration::from_secs(10), || {
        f.local.running_sessions() == 0
    })
    .await;
}

/// The bench example against `endpoint`, its output and ledger in `dir`.
fn bench_example(endpoint: &str, dir: &std::path::Path, repeats: &str) -> tokio::process::Child {
    tokio::process::Command::new(tests::example_binary("bench"))
        .args([
            "--endpoint",
            endpoint,
            "--repeats",
            repeats,
            "--concurrency",
            "6",
        ])
        .arg("--out")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bench_killed_mid_way_leaves_nothing_running_after_stop_all_from_its_ledger() {
    let f = fixture(LocalRuntime::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = bench_example(&f.local.endpoint(), dir.path(), "20");
    until(
        "the bench has sessions running",
        Duration::from_secs(60),
        || f.local.running_sessions() >= 3,
    )
    .await;
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    // Killed: nobody stopped its sessions.
    let left = f.local.running_sessions();
    assert!(left >= 1, "the killed bench left sessions running");
    let ledger = dir.path().join("sessions.ledger");
    let state = Ledger::read(&ledger).unwrap();
    assert!(state.not_stopped().count() >= left, "{state:?}");
    let report = stop_all(&f.client, &ledger).await.unwrap();
    eprint!("{}", report.table());
    assert!(report.is_clean());
    assert!(report.stopped.len() >= left);
    assert_eq!(f.local.running_sessions(), 0);
    assert_eq!(Ledger::read(&ledger).unwrap().not_stopped().count(), 0);
    // Again: nothing left to do.
    let again = stop_all(&f.client, &ledger).await.unwrap();
    assert!(again.stopped.is_empty() && again.is_clean());
}

async fn interrupt_when_running(f: &Fixture, mut child: tokio::process::Child, sessions: usize) {
    use tokio::io::AsyncReadExt;
    until("sessions running", Duration::from_secs(60), || {
        f.local.running_sessions() >= sessions
    })
    .await;
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the example ends after Ctrl-C")
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert!(err.contains("Ctrl-C: stopping every session"), "{err}");
    assert_ne!(status.code(), Some(0), "{err}");
    // The example returned only once its stops were acknowledged.
    assert_eq!(f.local.running_sessions(), 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_the_bench_and_race_examples_leaves_no_session_running() {
    let f = fixture(LocalRuntime::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    interrupt_when_running(&f, bench_example(&f.local.endpoint(), dir.path(), "20"), 4).await;
    let race = tokio::process::Command::new(tests::example_binary("race"))
        .args(["--endpoint", &f.local.endpoint()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    interrupt_when_running(&f, race, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_benches_on_one_runtime_never_exceed_25_commands_per_second_together() {
    let f = fixture(LocalRuntime::builder().command_rate_limit(25)).await;
    // Commands only (no agent): each run seeds, checks, and runs three more commands.
    let busy = |tag: &'static str| {
        Bench::builder(&f.client)
            .axis("bench", [tag])
            .axis("n", ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"])
            .runtime(&f.arn)
            .setup(|s| async move {
                for i in 0..3 {
                    s.run(format!("echo {i}")).await?.check()?;
                }
                Ok(())
            })
            .task_json(&serde_json::json!({ "quality": "right", "delayMs": 0 }))
            .unwrap()
            .check("true")
            .concurrency(10)
    };
    let (a, b) = tokio::join!(busy("a").run(), busy("b").run());
    let (a, b) = (a.unwrap(), b.unwrap());
    let stats = f.local.service_stats();
    eprintln!("{stats:?}");
    assert!(
        a.runs
            .iter()
            .chain(&b.runs)
            .all(|r| r.outcome == Outcome::Passed)
    );
    assert!(stats.requests >= 80, "20 runs × 4 commands: {stats:?}");
    // The server's own 25/s quota never tripped, and no second held more than 25 starts
    // (one more when loopback delays one request and not the next).
    assert_eq!(stats.quota_throttled, 0, "{stats:?}");
    assert!(stats.peak_commands_per_second <= 26, "{stats:?}");
}
