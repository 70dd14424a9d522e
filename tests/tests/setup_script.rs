//! `scripts/setup.sh` as a user without sudo on a machine that lacks tools: it names each
//! missing tool with the command that installs it, and goes on.

#[test]
fn setup_names_what_it_cannot_install_and_goes_on() {
    if !nix::unistd::geteuid().is_root() {
        tests::skip(
            "setup_names_what_it_cannot_install_and_goes_on",
            "needs root to run the script as another user (runuser)",
        );
        return;
    }
    let user = ["agentcore-ci-nosub", "nobody"]
        .into_iter()
        .find(|u| nix::unistd::User::from_name(u).ok().flatten().is_some())
        .expect("some unprivileged user");
    // A PATH where the script's own needs (bash, coreutils, grep, awk, sed) are found and the
    // tools it installs are not.
    let bin = tempfile::tempdir().unwrap();
    for tool in [
        "bash", "id", "grep", "awk", "sed", "cat", "sudo", "env", "python3",
    ] {
        if let Ok(p) = which(tool) {
            std::os::unix::fs::symlink(p, bin.path().join(tool)).unwrap();
        }
    }
    std::fs::set_permissions(
        bin.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/setup.sh");
    let copy = bin.path().join("setup.sh");
    std::fs::copy(&script, &copy).unwrap();
    let out = std::process::Command::new("runuser")
        .args(["-u", user, "--", "env", "-i"])
        .arg(format!("PATH={}", bin.path().display()))
        .arg(bin.path().join("bash"))
        .arg(&copy)
        .current_dir("/tmp")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for (tool, package) in [
        ("tmux", "tmux"),
        ("newuidmap", "uidmap"),
        ("slirp4netns", "slirp4netns"),
    ] {
        let line = format!("setup: missing {package} (install it: sudo apt-get install {package})");
        assert!(stderr.contains(&line), "{tool}: {stderr}");
    }
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(tool))
        .find(|p| p.exists())
        .ok_or(())
}
