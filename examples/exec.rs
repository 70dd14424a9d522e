//! `exec`: one command in a runtime session, with the library — first as a stream of typed
//! events, then with the one-call `output()`. (To run commands from a terminal, use the
//! command-line tool: `agentcore-rs exec -- cargo test`, see docs/CLI.md.)
//!
//! ```text
//! cargo run -p examples --example exec                      # in-process agentcore-local
//! cargo run -p examples --example exec -- --runtime <ARN>   # on AWS (usual AWS configuration)
//! ```

use std::time::Duration;

use agentcore_sdk::{CommandEvent, CommandStatus};
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let runtime = std::env::args().skip_while(|a| a != "--runtime").nth(1);
    let examples::Target {
        client,
        arn,
        local: _local, // keeps the in-process runtime alive
        ..
    } = examples::target(runtime.as_deref(), None, "exec_demo").await?;
    let session = client.session(&arn)?;

    // Streamed: output arrives as the command prints it.
    let mut events = session
        .command("for i in 1 2 3; do echo step $i; sleep 0.2; done; echo to stderr >&2; exit 3")
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    while let Some(event) = events.next().await {
        match event? {
            CommandEvent::Delta { stdout, stderr } => print!("{stdout}{}", stderr.to_uppercase()),
            CommandEvent::Stop { exit_code, status } => {
                println!("-> exit code {exit_code} ({})", status.as_str())
            }
            _ => {}
        }
    }

    // Collected: the common case in one call. Session storage outlives the command.
    let out = session
        .command("echo kept > /mnt/workspace/note && cat /mnt/workspace/note && uname -s")
        .output()
        .await?;
    assert_eq!(out.status, CommandStatus::Completed);
    print!("{}", out.stdout);
    println!("-> exit code {}", out.exit_code);
    Ok(())
}
