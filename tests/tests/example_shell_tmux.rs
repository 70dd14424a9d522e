//! Drives `examples/shell.rs` in a real terminal (tmux): banner, a command's output, Ctrl+]
//! detach with the re-attach command, and re-attaching the same shell from a new process.

use agentcore_local::LocalRuntime;
use tests::Tmux;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_example_in_a_real_terminal() {
    if !tests::have_tmux("shell_example_in_a_real_terminal") {
        return;
    }
    let bin = tests::example_binary("shell");
    let local = LocalRuntime::builder().start().await.unwrap();
    let endpoint = local.endpoint();
    let name = format!("agentcore-shell-{}", std::process::id());

    let first = Tmux::start(
        &name,
        &format!(
            "{} --endpoint {endpoint}; echo EXIT=$?; sleep 60",
            bin.display()
        ),
    );
    first.wait_for("Ctrl+] to detach]").await;
    first.keys(&["export TOPIC=resumed; echo $((6*7))-answer", "Enter"]);
    first.wait_for("42-answer").await;
    first.keys(&["C-]"]);
    let screen = first.wait_for("EXIT=0").await;
    assert!(screen.contains("detached"), "{screen}");
    let line = screen
        .lines()
        .find(|l| l.contains("--example shell --"))
        .unwrap_or_else(|| panic!("no re-attach command:\n{screen}"));
    let args = line
        .split_once("--example shell --")
        .unwrap()
        .1
        .trim()
        .to_owned();
    assert!(
        args.contains("--session") && args.contains("--shell-id") && args.contains("--runtime"),
        "{args}"
    );
    drop(first);

    // A new process re-attaches the same shell: the variable is still set.
    let second = Tmux::start(
        &format!("{name}-2"),
        &format!("{} {args}; echo EXIT=$?; sleep 60", bin.display()),
    );
    second.wait_for("Ctrl+] to detach]").await;
    second.keys(&["echo \"$TOPIC\"-$((1+2))", "Enter"]);
    second.wait_for("resumed-3").await;
    second.keys(&["exit 7", "Enter"]);
    second.wait_for("EXIT=7").await;
}
