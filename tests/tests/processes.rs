//! Processes that outlive a stream (`agentcore_sdk::process`) against agentcore-local, with
//! real processes: output resumed after cut connections and from another client process,
//! every byte once; stdin round trips; kill; idempotent starts; reading across several
//! commands.

use std::time::Duration;

use agentcore_sdk::Error;
use agentcore_sdk::process::{OutputOffsets, ProcessEvent, ProcessState, Signal, StdinState};
use futures::StreamExt;
use tests::{FaultProxy, Fixture, client_for};

/// `seq`-like output: `line-1\n` … `line-N\n`.
fn lines(n: usize) -> Vec<u8> {
    (1..=n)
        .flat_map(|i| format!("line-{i}\n").into_bytes())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_resumes_after_cut_connections_with_every_byte_once() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(f.local.addr()).await;
    let client = client_for(&proxy.endpoint(), None);
    let session = client.session(&f.arn).unwrap();
    // About 3 s of output, written a little at a time.
    let p = session
        .spawn("for i in $(seq 1 3000); do echo line-$i; [ $((i % 100)) = 0 ] && sleep 0.1; done; echo done >&2")
        .start()
        .await
        .unwrap();
    let mut output = p.output();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut cuts = 0;
    let mut exit = None;
    while let Some(ev) = output.next().await {
        match ev.unwrap() {
            ProcessEvent::Stdout { offset, data } => {
                assert_eq!(
                    offset,
                    out.len() as u64,
                    "stdout in order, no gap, no repeat"
                );
                out.extend_from_slice(&data);
                // Cut every live connection a few times while output flows.
                if cuts < 3 && out.len() > (cuts + 1) * 6000 {
                    cuts += 1;
                    assert!(proxy.cut() > 0, "a connection was live to cut");
                }
            }
            ProcessEvent::Stderr { offset, data } => {
                assert_eq!(offset, err.len() as u64);
                err.extend_from_slice(&data);
            }
            ProcessEvent::Exited(e) => exit = Some(e),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(cuts, 3, "the output was cut three times");
    assert_eq!(out, lines(3000), "every stdout byte exactly once");
    assert_eq!(err, b"done\n");
    assert_eq!(exit.map(|e| e.code), Some(0));
    assert_eq!(
        output.offsets(),
        OutputOffsets {
            stdout: out.len() as u64,
            stderr: 5
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_client_process_reattaches_by_id_and_reads_on_from_the_offset() {
    let f = Fixture::new().await;
    let session = f.session();
    let p = session
        .spawn("for i in $(seq 1 2000); do echo line-$i; [ $((i % 200)) = 0 ] && sleep 0.2; done; exit 7")
        .id("reattach-me")
        .unwrap()
        .start()
        .await
        .unwrap();
    // This client reads a part, then "crashes" (drops its stream) and another program
    // carries on from the stored offsets.
    let mut output = p.output();
    let mut first = Vec::new();
    while first.len() < 3000 {
        if let Some(Ok(ProcessEvent::Stdout { data, .. })) = output.next().await {
            first.extend_from_slice(&data);
        }
    }
    let offsets = output.offsets();
    drop(output);
    assert_eq!(offsets.stdout, first.len() as u64);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rest");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentcore-test-client"))
        .args([
            f.local.endpoint().as_str(),
            f.arn.as_str(),
            session.id().as_str(),
            "read-process",
            "reattach-me",
            &offsets.stdout.to_string(),
            &offsets.stderr.to_string(),
            file.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&child.stdout).trim(), "exit 7");
    let mut all = first;
    all.extend(std::fs::read(&file).unwrap());
    assert_eq!(
        all,
        lines(2000),
        "the two programs together saw every byte once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_round_trip_is_binary_safe_and_ends_with_close() {
    let f = Fixture::new().await;
    let session = f.session();
    let p = session
        .spawn("cat; echo closed >&2")
        .stdin(true)
        .start()
        .await
        .unwrap();
    // Every byte value, more than one command's worth (the writes are split).
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    p.write_stdin(&data[..50_000]).await.unwrap();
    p.write_stdin(&data[50_000..]).await.unwrap();
    assert_eq!(
        p.info().await.unwrap().stdin,
        StdinState::Open { written: 100_000 }
    );
    // Another handle on the same process learns where stdin is and carries on.
    let other = session.process(p.id().clone());
    other.write_stdin(b"tail").await.unwrap();
    p.close_stdin().await.unwrap();
    let (out, err, exit) = p.output().collect().await.unwrap();
    let mut expected = data.clone();
    expected.extend_from_slice(b"tail");
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "stdin came back byte for byte");
    assert_eq!(err, b"closed\n");
    assert!(exit.success());
    match p.write_stdin(b"late").await {
        Err(Error::WrongState { .. }) => {}
        other => panic!("a write after close must fail: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_process_group_and_wait_reports_the_signal() {
    let f = Fixture::new().await;
    let session = f.session();
    // The child `sleep` is in the process's group: it goes too.
    let p = session
        .spawn("sleep 600 & echo $! > /mnt/workspace/child.pid; wait")
        .start()
        .await
        .unwrap();
    assert_eq!(p.info().await.unwrap().state, ProcessState::Running);
    let listed = session.processes().await.unwrap();
    assert!(listed.iter().any(|i| &i.id == p.id()));
    // Let it start its child.
    for _ in 0..100 {
        if session
            .run("test -s /mnt/workspace/child.pid")
            .await
            .unwrap()
            .success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.kill(Signal::TERM).await.unwrap();
    let exit = p.wait().await.unwrap();
    assert_eq!((exit.code, exit.signal), (143, Some(15)));
    // The child ends too (gone, or a zombie until whoever adopted it reaps it).
    let child_gone = session
        .run(
            "p=$(cat /mnt/workspace/child.pid); for i in $(seq 100); do \
             case $(ps -o stat= -p $p) in ''|Z*) exit 0;; esac; sleep 0.1; done; exit 1",
        )
        .await
        .unwrap()
        .success();
    assert!(child_gone, "the process's child was signalled too");
    match p.info().await.unwrap().state {
        ProcessState::Exited(e) => assert_eq!(e.signal, Some(15)),
        other => panic!("{other:?}"),
    }
    p.clone().remove().await.unwrap();
    assert!(matches!(p.info().await, Err(Error::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_sent_twice_runs_once_and_an_id_is_never_reused_for_another_command() {
    let f = Fixture::new().await;
    let session = f.session();
    let command = "echo ran >> /mnt/workspace/runs; sleep 1";
    let a = session.spawn(command).id("once").unwrap().start();
    let b = session.spawn(command).id("once").unwrap().start();
    let (a, b) = tokio::join!(a, b);
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.id(), b.id());
    a.wait().await.unwrap();
    let runs = session
        .run("cat /mnt/workspace/runs")
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(runs.stdout, "ran\n", "started once");
    // Starting it again after it ended starts nothing either.
    session
        .spawn(command)
        .id("once")
        .unwrap()
        .start()
        .await
        .unwrap();
    let runs = session.run("cat /mnt/workspace/runs").await.unwrap();
    assert_eq!(runs.stdout, "ran\n");
    match session
        .spawn("echo other")
        .id("once")
        .unwrap()
        .start()
        .await
    {
        Err(Error::AlreadyExists { what }) => assert!(what.contains("once"), "{what}"),
        other => panic!("{other:?}"),
    }
    match session.spawn("true").id("no spaces") {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "processId"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_read_across_many_commands_when_the_process_outlives_one() {
    // The service caps a command at 3,600 s; reading is made of commands that each end
    // before that and hand over. Here each follows for 1 s, the process runs about 4 s.
    let f = Fixture::new().await;
    let session = f.session();
    let p = session
        .spawn("for i in $(seq 1 40); do echo line-$i; sleep 0.1; done")
        .merge_stderr(true)
        .env("GREETING", "hi there")
        .cwd("/tmp")
        .start()
        .await
        .unwrap();
    let (out, _, exit) = p
        .output()
        .command_window(Duration::from_secs(1))
        .collect()
        .await
        .unwrap();
    assert_eq!(out, lines(40));
    assert!(exit.success());
    let env = session
        .spawn("printf '%s|%s' \"$GREETING\" \"$PWD\"")
        .env("GREETING", "hi there")
        .cwd("/tmp")
        .start()
        .await
        .unwrap();
    let (out, _, _) = env.output().collect().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "hi there|/tmp");
}

/// Cuts every live connection at the first line of each test run.
struct CutMidRun {
    proxy: std::sync::Arc<FaultProxy>,
    lines: std::sync::Mutex<Vec<Vec<String>>>,
    cuts: std::sync::atomic::AtomicUsize,
}

impl examples::coding::Progress for CutMidRun {
    fn start(&self, _: usize, what: &str) {
        if what == "running the tests" {
            self.lines.lock().unwrap().push(Vec::new());
        }
    }
    fn line(&self, line: &str) {
        let mut lines = self.lines.lock().unwrap();
        let run = lines.last_mut().unwrap();
        run.push(line.to_owned());
        if run.len() == 1 {
            let n = self.proxy.cut();
            self.cuts.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn done(&self, _: &examples::coding::Step) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coding_loop_turns_no_cut_during_a_test_run_into_a_failed_iteration() {
    // The fixer agent is the coding_loop example itself, hosted per the container contract.
    let agent = tests::example_binary("coding_loop");
    let f = Fixture::with(agentcore_local::LocalRuntime::builder().agent_with_code(
        "coder",
        "exec /var/task/coding_loop --agent-mode",
        agent,
    ))
    .await;
    let proxy = std::sync::Arc::new(FaultProxy::start(f.local.addr()).await);
    let client = client_for(&proxy.endpoint(), None);
    let session = client.session(&f.arn).unwrap();
    let ws = examples::coding::workspace(&session).await.unwrap();
    examples::coding::seed(&session, &ws).await.unwrap();
    // Slow tests: each check takes a moment, so the run is cut while it goes on.
    session
        .run(format!(
            "cd {ws}/repo && sed -i 's/^check /sleep 0.4; check /' test.sh && git commit -qam slow"
        ))
        .await
        .unwrap()
        .check()
        .unwrap();
    let progress = CutMidRun {
        proxy: proxy.clone(),
        lines: Default::default(),
        cuts: Default::default(),
    };
    let outcome = examples::coding::run_loop(&session, &ws, 5, &progress)
        .await
        .unwrap();
    assert!(outcome.green && outcome.pushed.is_some(), "{outcome:?}");
    let tests: Vec<String> = outcome
        .steps
        .iter()
        .filter(|s| s.name == "test")
        .map(|s| s.detail.clone())
        .collect();
    assert_eq!(tests, ["2 failing", "1 failing", "all tests pass"]);
    assert!(
        progress.cuts.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "every test run was cut"
    );
    // Each run's output arrived whole, each line once.
    let runs = progress.lines.lock().unwrap().clone();
    assert_eq!(runs.len(), 3);
    for run in &runs {
        assert_eq!(run.len(), 3, "{run:?}");
    }
    assert!(runs[2].iter().all(|l| l.starts_with("PASS")), "{runs:?}");
}

/// Stopping a session ends every process it started, detached ones (a new session of their
/// own, as `spawn` makes them) and what they started in the background included, with or
/// without a sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_session_ends_its_detached_processes_and_their_children() {
    let f = Fixture::new().await;
    let session = f.session();
    let secs = 600_000 + u32::from(fastrand::u16(..));
    let marker = format!("sleep {secs}");
    let p = session
        .spawn(format!("sleep {secs} & setsid sleep {secs} & wait"))
        .start()
        .await
        .unwrap();
    assert_eq!(p.info().await.unwrap().state, ProcessState::Running);
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = tests::host_processes_with(&marker);
        if seen.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen.len() >= 2, "both sleeps started: {seen:?}");
    session.stop().await.unwrap();
    let mut left = seen;
    for _ in 0..100 {
        left = tests::host_processes_with(&marker);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        left.is_empty(),
        "processes outlived their session: {left:?}"
    );
}
