//! "Another client process" for the tests: a fresh program that knows only an endpoint, a
//! runtime ARN, a session id and what to do, as a user's second program (or the same one
//! after a restart) would.
//!
//! ```text
//! agentcore-test-client ENDPOINT ARN SESSION read-process ID STDOUT_OFFSET STDERR_OFFSET OUT_FILE
//! agentcore-test-client ENDPOINT ARN SESSION transfer LOCAL_FILE REMOTE_PATH BACK_FILE
//! ```
//!
//! `read-process` writes the process's stdout from the offset to OUT_FILE and prints
//! `exit CODE`. `transfer` uploads LOCAL_FILE, downloads it again to BACK_FILE and prints
//! `peak-rss BYTES` (this process's `VmHWM`).

use std::process::ExitCode;

use futures::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentcore-test-client: {e}");
            let mut source = std::error::Error::source(&*e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [endpoint, arn, session_id, what, rest @ ..] = args else {
        return Err("usage: ENDPOINT ARN SESSION COMMAND ARGS...".into());
    };
    let client = tests::client_for(endpoint, None);
    let session = client.session_with_id(arn.as_str(), session_id)?;
    match (what.as_str(), rest) {
        ("read-process", [id, out, err, file]) => {
            let offsets = agentcore_sdk::process::OutputOffsets {
                stdout: out.parse()?,
                stderr: err.parse()?,
            };
            let process = session.process(id.parse()?);
            let mut output = process.output_from(offsets);
            let mut got = Vec::new();
            while let Some(ev) = output.next().await {
                match ev? {
                    agentcore_sdk::process::ProcessEvent::Stdout { data, .. } => {
                        got.extend_from_slice(&data)
                    }
                    agentcore_sdk::process::ProcessEvent::Exited(exit) => {
                        std::fs::write(file, &got)?;
                        println!("exit {}", exit.code);
                        return Ok(());
                    }
                    _ => {}
                }
            }
            Err("the output ended without an exit".into())
        }
        ("transfer", [local, remote, back]) => {
            let files = session.files();
            files.upload(local, remote).send().await?;
            files.download(remote, back).send().await?;
            println!("peak-rss {}", tests::peak_rss());
            Ok(())
        }
        _ => Err(format!("unknown command {what} {rest:?}").into()),
    }
}
