//! The live-preview demo: a small web app with live reload (Python's standard library only,
//! [`APP`]) started in a session as a detached process, and reached from a local browser
//! through the session's endpoint and the SDK's preview proxy.

use agentcore_sdk::control::AllowedPort;
use agentcore_sdk::process::{Process, ProcessEvent};
use agentcore_sdk::{Client, Error, RuntimeArn, Session};
use futures::StreamExt;

/// The web app.
pub const APP: &str = include_str!("preview_app.py");

/// The port the demo app serves on in the session (one of the runtime's `allowedPorts`).
pub const PORT: u16 = 8000;

/// The runtime named `name` (session storage at `/mnt/workspace`, `allowedPorts` 8000–8010),
/// created if missing, once READY.
pub async fn demo_runtime(client: &Client, name: &str) -> Result<RuntimeArn, Error> {
    crate::demo_runtime_with(client, name, |create| {
        create.allowed_port(AllowedPort::PortRange(
            agentcore_sdk::control::PortRange::new(8000, 8010),
        ))
    })
    .await
}

/// Places the app in `dir` of the session with a first message, and starts it detached on
/// `port` (bound to `bind`, `0.0.0.0` to be reachable through the session endpoint); returns
/// once it serves. Starting again finds the running one.
pub async fn start_app(
    session: &Session,
    dir: &str,
    port: u16,
    bind: &str,
    message: &str,
) -> Result<Process, Error> {
    let files = session.files();
    files.write(&format!("{dir}/app.py"), APP).await?;
    files.write(&format!("{dir}/message.txt"), message).await?;
    let process = session
        .spawn(format!(
            "exec python3 -u {dir}/app.py {port} {dir}/message.txt {} {bind}",
            session.id()
        ))
        .id(format!("preview-app-{port}").as_str())?
        .merge_stderr(true)
        .start()
        .await?;
    // Its first line says it serves.
    let mut output = process.output();
    let mut seen = Vec::new();
    while let Some(ev) = output.next().await {
        match ev? {
            ProcessEvent::Stdout { data, .. } => {
                seen.extend_from_slice(&data);
                if String::from_utf8_lossy(&seen).contains("serving on") {
                    return Ok(process);
                }
            }
            ProcessEvent::Exited(exit) => {
                return Err(Error::WrongState {
                    what: format!(
                        "the preview app exited with {}: {}",
                        exit.code,
                        String::from_utf8_lossy(&seen)
                    ),
                });
            }
            _ => {}
        }
    }
    Err(Error::WrongState {
        what: "the preview app's output ended".into(),
    })
}
