//! `shell`: an interactive shell (a PTY in the session) with the library — it is
//! `AsyncRead + AsyncWrite`; resize it, detach, and re-attach to the same shell by session id
//! and shell id. (For a shell in your terminal, use the command-line tool:
//! `agentcore-rs exec --it`, see docs/CLI.md.)
//!
//! ```text
//! cargo run -p examples --example shell                      # in-process agentcore-local
//! cargo run -p examples --example shell -- --runtime <ARN>   # on AWS (usual AWS configuration)
//! ```

use std::time::Duration;

use agentcore_sdk::shell::Shell;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let runtime = std::env::args().skip_while(|a| a != "--runtime").nth(1);
    let examples::Target {
        client,
        arn,
        local: _local, // keeps the in-process runtime alive
        ..
    } = examples::target(runtime.as_deref(), None, "shell_demo").await?;

    let mut shell = client.shell(&arn).terminal_size(100, 30).connect().await?;
    shell.write_all(b"cd /mnt/workspace; TOPIC=kept\n").await?;
    shell
        .write_all(b"echo cols=$(tput cols)-$((6*7))\n")
        .await?;
    println!("{}", read_until(&mut shell, "cols=100-42").await?);

    // Detach: the shell keeps running in the session, with its working directory and variables.
    let ids = shell.detach().await;
    println!(
        "detached from shell {} of session {}",
        ids.shell_id, ids.session_id
    );

    let mut shell = client
        .shell(&ids.runtime_arn)
        .session_id(ids.session_id.as_str())
        .shell_id(ids.shell_id.as_str())
        .connect()
        .await?;
    shell.resize(120, 40);
    shell
        .write_all(b"echo \"$PWD $TOPIC $(tput cols)\"-$((2+3))\n")
        .await?;
    println!(
        "{}",
        read_until(&mut shell, "/mnt/workspace kept 120-5").await?
    );

    shell.write_all(b"exit 7\n").await?;
    let exit = shell.wait().await;
    println!("shell exited: {:?}", exit.and_then(|e| e.code));
    Ok(())
}

/// Reads the shell until `marker` appears (the terminal echoes what was typed, so the marker
/// is a computed value), or fails after 30 s; returns the line that holds it, without control sequences.
async fn read_until(shell: &mut Shell, marker: &str) -> Result<String, BoxError> {
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(30), async {
        while !seen.contains(marker) {
            let n = shell.read(&mut buf).await?;
            if n == 0 {
                return Err::<(), BoxError>("the shell ended".into());
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Ok(())
    })
    .await
    .map_err(|_| format!("no {marker:?} within 30 s: {seen:?}"))??;
    let line = seen.lines().find(|l| l.contains(marker)).unwrap_or(marker);
    Ok(without_escapes(line).trim().to_owned())
}

/// `line` without terminal control sequences (`ESC [ ... final-byte`), for printing.
fn without_escapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                chars.find(|c| ('@'..='~').contains(c));
            }
        } else {
            out.push(c);
        }
    }
    out
}
