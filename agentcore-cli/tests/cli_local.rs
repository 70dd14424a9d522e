//! `agentcore-rs local`, then `exec` against it with nothing but the endpoint — the README's
//! line — and `local purge`.

mod common;

use std::io::BufRead;

use common::{clean_cli, text};

#[test]
fn local_then_exec_with_only_the_endpoint() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let mut server = std::process::Command::new(common::bin())
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(
            std::env::var_os("AGENTCORE_LOCAL_ISOLATION").map(|v| ("AGENTCORE_LOCAL_ISOLATION", v)),
        )
        .args([
            "local",
            "--listen",
            "127.0.0.1:0",
            "--ready-delay-ms",
            "0",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let endpoint = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| l.strip_prefix("listening on ").map(str::to_owned))
        .expect("the server says where it listens");
    let runtime = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(
        runtime.starts_with("runtime default: arn:aws:bedrock-agentcore:"),
        "{runtime}"
    );
    let run = |args: &[&str]| {
        clean_cli(home.path())
            .env("AGENTCORE_ENDPOINT_URL", &endpoint)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["exec", "--", "uname", "-a"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("Linux "),
        "{}",
        text(&out.stdout)
    );
    let out = run(&["-o", "text", "runtimes", "list"]);
    assert!(
        text(&out.stdout).starts_with("default\tdefault-"),
        "{}",
        text(&out.stdout)
    );
    // SIGTERM: the server stops its sessions and exits 0.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The data directory survives; `local purge` removes it whole.
    assert!(data.exists());
    let out = clean_cli(home.path())
        .args(["local", "purge", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!data.exists());
}
