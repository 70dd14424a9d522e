//! The command line itself: `--help` of every command (snapshots), completions, the man page,
//! the version, and bad input that must end in one line on stderr and exit code 125.

mod common;

use common::{clean_cli, snapshot, text};

const COMMANDS: &[&[&str]] = &[
    &[],
    &["exec"],
    &["invoke"],
    &["runtimes"],
    &["runtimes", "create"],
    &["runtimes", "update"],
    &["endpoints"],
    &["endpoints", "create"],
    &["sessions"],
    &["sessions", "stop-all"],
    &["status"],
    &["cp"],
    &["ps"],
    &["logs"],
    &["kill"],
    &["preview"],
    &["race"],
    &["bench"],
    &["watch"],
    &["local"],
    &["completions"],
];

#[test]
fn help_of_every_command() {
    let home = tempfile::tempdir().unwrap();
    for args in COMMANDS {
        let out = clean_cli(home.path())
            .args(*args)
            .arg("--help")
            .env("COLUMNS", "100")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let name = if args.is_empty() {
            "help.txt".to_owned()
        } else {
            format!("help-{}.txt", args.join("-"))
        };
        snapshot(&name, &text(&out.stdout));
    }
}

#[test]
fn version_completions_and_man_page() {
    let home = tempfile::tempdir().unwrap();
    let out = clean_cli(home.path()).arg("--version").output().unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("agentcore-rs {}\n", env!("CARGO_PKG_VERSION"))
    );
    for (shell, marker) in [
        ("bash", "complete -F _agentcore__rs"),
        ("zsh", "#compdef agentcore-rs"),
        ("fish", "complete -c agentcore-rs"),
    ] {
        let out = clean_cli(home.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script:.200}");
        // Subcommands and their flags are completed.
        assert!(
            script.contains("runtimes") && script.contains("session-id"),
            "{shell}"
        );
    }
    let out = clean_cli(home.path()).arg("man").output().unwrap();
    assert!(out.status.success());
    let man = text(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH agentcore-rs"),
        "{man:.300}"
    );
    assert!(man.contains("exec"), "{man:.300}");
}

/// Runs `args` and checks the failure: exit 125, one line on stderr starting with the
/// program's name, containing `needle`.
fn fails_with(cmd: &mut assert_cmd::Command, needle: &str) {
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("agentcore-rs: error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_is_one_line_and_exit_125() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    // No runtime anywhere, against a non-local endpoint: the three places are named.
    fails_with(
        clean_cli(dir).args(["exec", "--", "true"]).env(
            "AGENTCORE_ENDPOINT_URL",
            "https://agentcore.example.invalid",
        ),
        "--runtime NAME|ARN, set AGENTCORE_RUNTIME, or set `runtime` in",
    );
    // Plain http is only for loopback.
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "list"])
            .env("AGENTCORE_ENDPOINT_URL", "http://10.1.2.3:8080")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret-never-printed"),
        "configuration",
    );
    // A bad endpoint is what is reported, not the region or credentials missing with it.
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "list"])
            .args(["--endpoint-url", "not-a-url"]),
        "invalid endpoint URL \"not-a-url\"",
    );
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "list"])
            .env("AGENTCORE_ENDPOINT_URL", "http://10.1.2.3:8080"),
        "only allowed for loopback",
    );
    // A config file that is not TOML, or has unknown keys.
    let config = dir.join("config.toml");
    std::fs::write(&config, "region = \n").unwrap();
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "list"])
            .env("AGENTCORE_RS_CONFIG", &config),
        "config.toml",
    );
    std::fs::write(&config, "regoin = \"us-east-1\"\n").unwrap();
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "list"])
            .env("AGENTCORE_RS_CONFIG", &config),
        "regoin",
    );
    // Spec files: missing, not TOML, unknown members, no check.
    let local = ["AGENTCORE_ENDPOINT_URL", "http://127.0.0.1:9"];
    fails_with(
        clean_cli(dir)
            .args(["race", "missing-spec.toml"])
            .env(local[0], local[1]),
        "missing-spec.toml",
    );
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, "[task\n").unwrap();
    fails_with(
        clean_cli(dir)
            .arg("race")
            .arg(&spec)
            .env(local[0], local[1]),
        "spec.toml",
    );
    std::fs::write(&spec, "chekc = 'x'\n").unwrap();
    fails_with(
        clean_cli(dir)
            .arg("bench")
            .arg(&spec)
            .env(local[0], local[1]),
        "chekc",
    );
    std::fs::write(&spec, "check = 'true'\n").unwrap();
    fails_with(
        clean_cli(dir)
            .arg("race")
            .arg(&spec)
            .env(local[0], local[1]),
        "[[contender]]",
    );
    // Settings files: missing, bad JSON, not an object.
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "create", "--file", "nope.json"])
            .env(local[0], local[1]),
        "nope.json",
    );
    let settings = dir.join("rt.json");
    std::fs::write(&settings, "{\"agentRuntimeName\": ").unwrap();
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "create", "--file"])
            .arg(&settings)
            .env(local[0], local[1]),
        "invalid JSON",
    );
    // Flags the CLI checks itself.
    fails_with(
        clean_cli(dir)
            .args(["exec", "--timeout", "0", "--", "true"])
            .env(local[0], local[1]),
        "--timeout must be 1 to 3600",
    );
    fails_with(
        clean_cli(dir).args(["exec"]).env(local[0], local[1]),
        "no command",
    );
    fails_with(
        clean_cli(dir)
            .args(["kill", "--session-id", "x", "--signal", "NOPE", "p1"])
            .env(local[0], local[1]),
        "unknown signal",
    );
    fails_with(
        clean_cli(dir)
            .args(["cp", "./a", "./b"])
            .env(local[0], local[1]),
        "one side of cp must be in a session",
    );
    // Nothing listens on port 9: a connection error, one line.
    fails_with(
        clean_cli(dir)
            .args(["runtimes", "list"])
            .env(local[0], local[1]),
        "ListAgentRuntimes",
    );
}

#[test]
fn usage_errors_exit_125_with_clap_s_message() {
    let home = tempfile::tempdir().unwrap();
    let out = clean_cli(home.path())
        .args(["exec", "--shell-id", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--it"), "{}", text(&out.stderr));
    let out = clean_cli(home.path())
        .args(["runtimes", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
}
