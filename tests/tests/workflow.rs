//! Workflow helpers against the local runtime: checked runs, binary-safe files, git steps,
//! fleets and the command rate limiter.

use agentcore_sdk::workflow::fleet::Fleet;
use agentcore_sdk::{Error, Session, sh};

#[agentcore_local::test]
async fn check_turns_failures_into_errors_with_the_output_tail(session: Session) {
    let ok = session.run("echo fine").await.unwrap().check().unwrap();
    assert_eq!(ok.stdout, "fine\n");
    let err = session
        .run("for i in $(seq 1 5000); do echo line-$i; done; echo 'boom: assertion failed' >&2; exit 101")
        .await
        .unwrap()
        .check()
        .unwrap_err();
    match &err {
        Error::CommandFailed {
            exit_code,
            stdout_tail,
            stderr_tail,
            ..
        } => {
            assert_eq!(*exit_code, 101);
            assert!(stdout_tail.ends_with("line-5000\n"));
            assert!(stdout_tail.len() <= 4096);
            assert_eq!(stderr_tail, "boom: assertion failed\n");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("101") && err.to_string().contains("boom"),
        "{err}"
    );
}

#[agentcore_local::test]
async fn files_round_trip_byte_for_byte(session: Session) {
    // Every byte value, and enough data for several chunks of the 64 KiB command limit.
    let mut data: Vec<u8> = (0..=255u8).collect();
    let mut x: u32 = 12345;
    for _ in 0..300_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.push((x >> 16) as u8);
    }
    let path = "/mnt/workspace/dir with space/it's.bin";
    session.write_file(path, &data).await.unwrap();
    assert_eq!(session.read_file(path).await.unwrap(), data);
    let size = session.run(sh!("stat -c %s {path}")).await.unwrap();
    assert_eq!(size.stdout.trim(), data.len().to_string());
    session.write_file(path, b"").await.unwrap();
    assert!(session.read_file(path).await.unwrap().is_empty());
    let missing = session.read_file("/mnt/workspace/nope").await.unwrap_err();
    assert!(matches!(missing, Error::CommandFailed { .. }));
}

#[agentcore_local::test]
async fn git_steps_commit_and_push_to_a_remote(session: Session) -> Result<(), Error> {
    session
        .run("git init -q --bare -b main /mnt/workspace/remote.git")
        .await?
        .check()?;
    let repo = session.git("/mnt/workspace/repo");
    repo.clone_from("/mnt/workspace/remote.git").await?;
    repo.set_identity("agent", "agent@example.com").await?;
    assert_eq!(repo.commit_all("nothing yet").await?, None);
    session
        .write_file("/mnt/workspace/repo/README.md", b"hello\n")
        .await?;
    assert_eq!(repo.status().await?, vec!["?? README.md".to_owned()]);
    let sha = repo
        .commit_all("docs: add readme")
        .await?
        .expect("a commit");
    assert_eq!(repo.head().await?, sha);
    repo.push("origin", "HEAD:refs/heads/main").await?;
    let remote = session.git("/mnt/workspace/remote.git");
    assert_eq!(remote.head().await?, sha);
    assert!(repo.log(5).await?[0].ends_with("docs: add readme"));
    // clone_from keeps existing work on a resumed session.
    repo.clone_from("/mnt/workspace/remote.git").await?;
    assert_eq!(repo.head().await?, sha);
    Ok(())
}

#[agentcore_local::test]
async fn a_fleet_of_twenty_sessions_reports_every_run(
    session: Session,
    client: agentcore_sdk::Client,
) {
    let report = Fleet::builder(&client, session.arn())
        .unwrap()
        .sessions(20)
        .concurrency(6)
        .commands_per_second(25)
        .run(|s, i| async move {
            // Each session writes to its own storage; odd ones fail on purpose.
            s.run(sh!(
                "echo {i} > /mnt/workspace/me && cat /mnt/workspace/me && exit $(( {i} % 2 ))"
            ))
            .await
        })
        .await;
    assert_eq!(report.runs.len(), 20);
    assert_eq!(report.succeeded(), 10);
    let mut sessions = std::collections::HashSet::new();
    for r in &report.runs {
        assert_eq!(r.stdout_tail.trim(), r.index.to_string(), "{r:?}");
        assert_eq!(r.exit_code, Some((r.index % 2) as i32));
        assert_eq!(r.success, r.index % 2 == 0);
        assert!(r.latency_ms > 0.0);
        assert!(sessions.insert(r.session_id.clone()), "one session per run");
    }
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 20);
    let csv = report.to_csv();
    assert_eq!(csv.lines().count(), 21);
    assert!(
        csv.starts_with(
            "index,session_id,latency_ms,exit_code,status,success,stdout_bytes,error\n"
        )
    );
    assert!(report.table().contains("10 of 20 succeeded"));
}

#[agentcore_local::test]
async fn the_rate_limiter_holds_the_configured_rate(
    session: Session,
    client: agentcore_sdk::Client,
) {
    const RATE: u32 = 10;
    const COMMANDS_PER_SESSION: usize = 2;
    let report = Fleet::builder(&client, session.arn())
        .unwrap()
        .sessions(20)
        .concurrency(20)
        .commands_per_second(RATE)
        .run(|s, _| async move {
            let mut starts = String::new();
            for _ in 0..COMMANDS_PER_SESSION {
                // The first thing each command does is record when it started.
                starts.push_str(&s.run("date +%s.%N").await?.check()?.stdout);
            }
            s.run(sh!("printf %s {starts}")).await
        })
        .await;
    assert_eq!(report.succeeded(), 20, "{}", report.table());
    let mut starts: Vec<f64> = report
        .runs
        .iter()
        .flat_map(|r| {
            r.stdout_tail
                .lines()
                .map(|l| l.parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    starts.sort_by(f64::total_cmp);
    assert_eq!(starts.len(), 40);
    // GCRA with a burst of RATE: any 2*RATE consecutive starts span at least one second
    // (less a margin for process start-up jitter). Without a limiter they span milliseconds.
    let k = 2 * RATE as usize;
    for w in starts.windows(k + 1) {
        let span = w[k] - w[0];
        assert!(
            span >= 0.5,
            "{} commands started within {span:.3} s at {RATE}/s",
            k + 1
        );
    }
}
