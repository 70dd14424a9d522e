//! The short library examples `exec` and `shell` run end to end on an in-process
//! agentcore-local and print what their doc comments promise.

fn run_example(name: &str) -> String {
    let out = std::process::Command::new(tests::example_binary(name))
        .env_remove("AGENTCORE_ENDPOINT_URL")
        .output()
        .expect("the example starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn exec_example_streams_typed_events_then_collects_output() {
    let out = run_example("exec");
    assert_eq!(
        out,
        "step 1\nstep 2\nstep 3\nTO STDERR\n-> exit code 3 (COMPLETED)\nkept\nLinux\n-> exit code 0\n",
    );
}

#[test]
fn shell_example_detaches_and_reattaches_to_the_same_shell() {
    let out = run_example("shell");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "cols=100-42");
    assert!(lines[1].starts_with("detached from shell "), "{out}");
    // Re-attached to the same shell: its directory, its variable and the new size.
    assert_eq!(lines[2], "/mnt/workspace kept 120-5");
    assert_eq!(lines[3], "shell exited: Some(7)");
}
