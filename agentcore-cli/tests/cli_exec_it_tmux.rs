//! `exec --it` in a real terminal (tmux): the banner, a command's output, Ctrl+] detaching
//! with the exact re-attach command printed, that command run as printed in a new terminal
//! (the shell's state is still there), and the shell's exit code passed through.

mod common;

use tests::Tmux;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_it_detaches_and_reattaches_by_the_printed_command() {
    if !tests::have_tmux("exec_it_detaches_and_reattaches_by_the_printed_command") {
        return;
    }
    let local = common::Local::start().await;
    let bin = common::bin();
    // A directory on PATH with `agentcore-rs` in it, so the printed command runs as it is.
    let path_dir = local.home.path().join("bin");
    std::fs::create_dir_all(&path_dir).unwrap();
    std::os::unix::fs::symlink(&bin, path_dir.join("agentcore-rs")).unwrap();
    let env = format!(
        "env -i HOME={home} PATH={path}:/usr/bin:/bin TERM=xterm NO_COLOR=1 AGENTCORE_RS_CONFIG={home}/none.toml {iso}",
        home = local.home.path().display(),
        path = path_dir.display(),
        iso = std::env::var("AGENTCORE_LOCAL_ISOLATION")
            .map(|v| format!("AGENTCORE_LOCAL_ISOLATION={v}"))
            .unwrap_or_default(),
    );
    let name = format!("agentcore-rs-it-{}", std::process::id());
    let first = Tmux::start(
        &name,
        &format!(
            "{env} AGENTCORE_ENDPOINT_URL={} agentcore-rs exec --it; echo EXIT=$?; sleep 60",
            local.endpoint()
        ),
    );
    first.wait_for("Ctrl+] to detach]").await;
    first.keys(&["export TOPIC=resumed; echo $((6*7))-answer", "Enter"]);
    first.wait_for("42-answer").await;
    first.keys(&["C-]"]);
    let screen = first.wait_for("EXIT=0").await;
    assert!(
        screen.contains("[detached · the shell keeps running · re-attach with:]"),
        "{screen}"
    );
    let command = screen
        .lines()
        .find(|l| l.starts_with("agentcore-rs exec --it "))
        .unwrap_or_else(|| panic!("no re-attach command:\n{screen}"))
        .trim()
        .to_owned();
    for flag in [
        "--runtime arn:aws:bedrock-agentcore:",
        "--session-id ",
        "--shell-id ",
        "--region us-east-1",
        "--endpoint-url http://127.0.0.1:",
    ] {
        assert!(command.contains(flag), "{flag} not in {command}");
    }
    drop(first);

    // The printed command, as it is, in a new terminal without AGENTCORE_ENDPOINT_URL.
    let second = Tmux::start(
        &format!("{name}-2"),
        &format!("{env} {command}; echo EXIT=$?; sleep 60"),
    );
    second.wait_for("Ctrl+] to detach]").await;
    second.keys(&["echo \"$TOPIC\"-$((1+2))", "Enter"]);
    second.wait_for("resumed-3").await;
    second.keys(&["exit 7", "Enter"]);
    second.wait_for("EXIT=7").await;
}
