//! The fleet experiments end to end on agentcore-local with real processes: race (first
//! winner, every other session stopped and its processes gone, cancel-safe), bench (one row
//! per run, resumable, a chart), watch (a shell and an invocation in one session; the agent
//! reads a note a person dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agentcore_local::LocalRuntime;
use agentcore_sdk::workflow::bench::{Bench, Outcome, Prices, TestScore};
use agentcore_sdk::workflow::race::{Contender, ContenderStatus, Race, RacePhase};
use agentcore_sdk::workflow::watch::Watch;
use examples::experiments;
use futures::StreamExt;
use tests::{Fixture, Tmux};

/// A local runtime whose agent is the experiments agent (the `race` example binary in
/// `--agent-mode`), its processes marked with `marker` in their environment.
async fn fixture(marker: &str) -> Fixture {
    let bin = tests::example_binary("race");
    Fixture::with(LocalRuntime::builder().agent_with_code(
        "*",
        format!("EXPERIMENT_MARK={marker} exec /var/task/race --agent-mode"),
        bin,
    ))
    .await
}

/// Host processes whose environment holds `EXPERIMENT_MARK=<marker>`.
fn marked_processes(marker: &str) -> usize {
    let needle = format!("EXPERIMENT_MARK={marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .count()
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn contender(f: &Fixture, name: &str, quality: &str, delay_ms: u64) -> Contender {
    Contender::new(name, &f.arn)
        .unwrap()
        .json(&serde_json::json!({ "quality": quality, "delayMs": delay_ms }))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_declares_the_first_winner_and_stops_every_other_session() {
    let marker = uuid::Uuid::new_v4().to_string();
    let f = fixture(&marker).await;
    let seen_running = Arc::new(AtomicUsize::new(0));
    let report = Race::builder(&f.client)
        .contender_with(contender(&f, "slow-right", "right", 8000))
        .contender_with(contender(&f, "fast-right", "right", 1500))
        .contender_with(contender(&f, "faster-wrong", "wrong", 200))
        .contender_with(contender(&f, "crasher", "crash", 300))
        .setup(experiments::seed)
        .check(experiments::CHECK)
        .attempts(2)
        .push_winner(
            "/mnt/workspace/repo",
            "origin",
            "HEAD:refs/heads/race-winner",
        )
        .on_update({
            let seen = seen_running.clone();
            let marker = marker.clone();
            move |u| {
                if u.contender == "fast-right" && u.phase == RacePhase::Checking(1) {
                    seen.store(marked_processes(&marker), Ordering::SeqCst);
                }
            }
        })
        .run()
        .await
        .unwrap();
    let status = |name: &str| {
        report
            .contenders
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .status
    };
    assert_eq!(
        report.winner.as_deref(),
        Some("fast-right"),
        "{}",
        report.table()
    );
    assert_eq!(status("fast-right"), ContenderStatus::Won);
    assert_eq!(status("faster-wrong"), ContenderStatus::Lost);
    assert_eq!(status("crasher"), ContenderStatus::AgentError);
    assert_eq!(status("slow-right"), ContenderStatus::Cancelled);
    assert!(report.time_to_winner.unwrap() >= Duration::from_millis(1500));
    // Agents were running (slow-right's at least) when the winner was checked …
    assert!(
        seen_running.load(Ordering::SeqCst) >= 1,
        "no agent process seen"
    );
    // … and every session is stopped, its processes gone.
    assert_eq!(report.sessions_stopped, 4, "{}", report.to_json());
    assert!(report.contenders.iter().all(|c| c.session_stopped));
    assert_eq!(f.local.running_sessions(), 0);
    assert_eq!(marked_processes(&marker), 0);
    // The winner pushed its fix; the branch is in its session storage.
    let sha = report.pushed.clone().expect("winner pushed");
    let winner = report.winner().unwrap();
    let again = f
        .client
        .session_with_id(&f.arn, winner.session_id.as_str())
        .unwrap();
    let remote = again
        .run("git -C /mnt/workspace/remote.git rev-parse race-winner && git -C /mnt/workspace/remote.git show race-winner:calc.sh")
        .await
        .unwrap()
        .check()
        .unwrap();
    assert!(remote.stdout.starts_with(&sha), "{}", remote.stdout);
    assert!(remote.stdout.contains("mul() { echo $(( $1 * $2 )); }"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_race_midway_stops_every_session_it_started() {
    let marker = uuid::Uuid::new_v4().to_string();
    let f = fixture(&marker).await;
    let race = Race::builder(&f.client)
        .contender_with(contender(&f, "a", "right", 60_000))
        .contender_with(contender(&f, "b", "right", 60_000))
        .contender_with(contender(&f, "c", "right", 60_000))
        .check("true")
        .run();
    tokio::select! {
        r = race => panic!("the race ended: {r:?}"),
        () = until("three agents mid-invocation", || {
            f.local.running_sessions() == 3 && marked_processes(&marker) >= 3
        }) => {}
    }
    // The race future was dropped there, its agents mid-invocation.
    until("every session stopped", || f.local.running_sessions() == 0).await;
    until("every agent process gone", || {
        marked_processes(&marker) == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_without_check_or_contenders_is_refused() {
    let f = Fixture::new().await;
    let e = Race::builder(&f.client)
        .check("true")
        .run()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("contender"), "{e}");
    let e = Race::builder(&f.client)
        .contender("a", &f.arn)
        .run()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("check"), "{e}");
    let e = Race::builder(&f.client)
        .contender("a", "not-an-arn")
        .check("true")
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(e, agentcore_sdk::Error::InvalidInput { .. }),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_writes_a_row_per_run_resumes_and_draws_a_chart() {
    let f = fixture("bench").await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench.csv");
    let arn = f.arn.clone();
    let bench = || {
        let arn = arn.clone();
        Bench::builder(&f.client)
            .axis("harness", ["codex", "aider"])
            .axis("model", ["sonnet", "haiku", "broken"])
            .repeats(2)
            .configure(move |v| {
                if v.get("model") == Some("broken") {
                    return Err(agentcore_sdk::Error::InvalidInput {
                        field: "model",
                        rule: "no such model".into(),
                    });
                }
                let payload = serde_json::json!({
                    "harness": v.get("harness"),
                    "model": v.get("model"),
                });
                Contender::new(v.key(), &arn)?.json(&payload)
            })
            .setup(experiments::seed)
            .check(experiments::CHECK)
            .score(|out| TestScore::count_lines(&out.stdout, "PASS", "FAIL"))
            .cost_model(Prices::per_session_second(0.01).tokens(1e-6, 2e-6))
            .concurrency(4)
            .output(&csv)
    };
    let report = bench().run().await.unwrap();
    assert_eq!(report.runs.len(), 12);
    assert_eq!(report.ran, 12);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "variant,repeat,session_id,outcome,cause,wall_ms,invoke_ms,check_ms,tests_passed,tests_total,test_score,input_tokens,output_tokens,reply_bytes,cost,tries,started_at,finished_at,error"
    );
    assert_eq!(lines.count(), 12, "{text}");
    for r in &report.runs {
        if r.variant.contains("broken") {
            assert_eq!(r.outcome, Outcome::InfraError);
            assert!(r.error.contains("no such model"), "{}", r.error);
        } else {
            assert!(r.outcome.is_valid(), "{r:?}");
            assert_eq!(r.tests_total, 3, "{r:?}");
            assert!(r.invoke_ms > 0.0 && r.check_ms > 0.0 && r.wall_ms >= r.invoke_ms);
            assert!(r.input_tokens > 0 && r.cost > 0.0, "{r:?}");
            assert_eq!(r.outcome == Outcome::Passed, r.tests_passed == 3, "{r:?}");
        }
    }
    let summary = report.aggregate();
    assert_eq!(summary.len(), 6);
    assert_eq!(summary[0].variant, "harness=codex model=sonnet");
    assert!(report.table().contains("harness=aider model=haiku"));
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 12);

    // The same file again: finished rows are skipped, error rows run again.
    let again = bench().run().await.unwrap();
    assert_eq!(again.ran, 4, "only the 4 error rows run again");
    assert_eq!(again.runs.len(), 12);
    // Lose two finished rows (as if killed before they were written): only they run.
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, l)| !(l.contains("harness=codex model=haiku") && *i > 0))
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&csv, kept.join("\n") + "\n").unwrap();
    let third = bench().run().await.unwrap();
    assert_eq!(third.ran, 2 + 4);
    assert_eq!(third.runs.len(), 12);

    let svg = report.to_svg().unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    assert!(
        svg.matches("<circle").count() >= 12,
        "a point and a legend dot per variant"
    );
    assert!(svg.contains("harness=codex model=sonnet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_tails_follows_and_leaves_a_note_while_the_agent_works() {
    let f = fixture("watch-api").await;
    let session = f.session();
    session
        .run("mkdir -p /mnt/workspace && : > /mnt/workspace/NOTE.md")
        .await
        .unwrap()
        .check()
        .unwrap();
    let invocation = {
        let session = session.clone();
        tokio::spawn(async move {
            session
                .invoke("")
                .json(&serde_json::json!({"watch": {"steps": 200, "intervalMs": 100}}))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
        })
    };
    let watch = Watch::new(&session);
    let mut follow = watch.follow().await.unwrap();
    let first = follow.next().await.unwrap().unwrap();
    assert_eq!(first, "step 1/200: working");
    watch
        .note("prefer small commits\nsecond line")
        .await
        .unwrap();
    let mut read = None;
    while let Some(line) = follow.next().await {
        let line = line.unwrap();
        if line.contains("read note") {
            read = Some(line);
            break;
        }
    }
    assert!(
        read.unwrap().ends_with("read note: prefer small commits"),
        "the agent read the note at its next step"
    );
    let tail = watch.tail(2).await.unwrap();
    assert_eq!(tail.len(), 2, "{tail:?}");
    drop(follow);
    session.stop().await.unwrap();
    let _ = invocation.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_example_attaches_in_a_terminal_and_the_agent_reads_the_note() {
    if !tests::have_tmux("watch_example_attaches_in_a_terminal_and_the_agent_reads_the_note") {
        return;
    }
    let bin = tests::example_binary("watch");
    let name = format!("agentcore-watch-{}", std::process::id());
    let t = Tmux::start(
        &name,
        &format!(
            "{} --attach --steps 60 --interval-ms 300; echo EXIT=$?; sleep 60",
            bin.display()
        ),
    );
    t.wait_for("Ctrl+] to detach]").await;
    t.keys(&[
        "tail -n 2 /mnt/workspace/agent.log; echo TAIL$((1+1))ED",
        "Enter",
    ]);
    let screen = t.wait_for("TAIL2ED").await;
    assert!(
        screen.contains("/60: working\n"),
        "the log is visible:\n{screen}"
    );
    t.keys(&[
        "echo 'hello from the watcher' > /mnt/workspace/NOTE.md",
        "Enter",
    ]);
    t.keys(&["C-]"]);
    t.wait_for("[detached").await;
    let screen = t.wait_for("agent │ step").await;
    assert!(!screen.contains("EXIT="), "{screen}");
    // The agent's next step read the note, and it went on to the end, undisturbed.
    t.wait_for("read note: hello from the watcher").await;
    let screen = t.wait_for("EXIT=").await;
    assert!(screen.contains("agent │ done"), "{screen}");
    assert!(screen.contains("agent finished\nEXIT=0"), "{screen}");
}
