//! The README's main job: the coding loop example, run end to end as a user runs it.

#[test]
fn coding_loop_runs_green_pushes_and_resumes() {
    let bin = tests::example_binary("coding_loop");
    let out = std::process::Command::new(bin).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    // The tests failed first, the agent fixed one function per call, then all passed.
    assert!(
        stdout.contains("FAIL add 2 3: expected 5, got -1"),
        "{stdout}"
    );
    assert!(stdout.contains("fixed add(): - → +"), "{stdout}");
    assert!(stdout.contains("fixed mul(): + → *"), "{stdout}");
    assert!(stdout.contains("PASS mul 3 4 = 12"), "{stdout}");
    assert!(
        stdout.contains("green after 2 agent calls · pushed"),
        "{stdout}"
    );
    // After StopRuntimeSession, the same session id still has the commit.
    assert!(
        stdout.contains("calc: fix operators (coding agent)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the work is still there: 2 commits"),
        "{stdout}"
    );
}
