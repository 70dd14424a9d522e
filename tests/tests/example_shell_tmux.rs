//! Drives `examples/shell.rs` in a real terminal (tmux): banner, a command's output, Ctrl+]
//! detach with the re-attach command, and re-attaching the same shell from a new process.

use std::process::Command;
use std::time::{Duration, Instant};

use agentcore_local::LocalRuntime;

struct Tmux(String);

impl Tmux {
    fn start(name: &str, command: &str) -> Self {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", name])
            .status();
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                name,
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status()
            .expect("tmux runs (scripts/setup.sh installs it)");
        assert!(status.success());
        Self(name.to_owned())
    }
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.0];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }
    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-J", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    async fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no {needle:?} on screen:\n{s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_example_in_a_real_terminal() {
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
