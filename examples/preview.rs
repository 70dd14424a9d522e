//! `preview`: a web app with live reload runs inside an agent's session; a local preview
//! proxy makes it a page in your browser, and edits in the session reload it live.
//!
//! ```text
//! cargo run -p examples --example preview                    # local runtime, no AWS account
//! cargo run -p examples --example preview -- --runtime <ARN> # the same on AWS (runtime with
//!                                                            # allowedPorts incl. 8000, python3)
//! ```
//!
//! It invokes the session's agent (which brings the session's endpoint URL), starts the app
//! as a detached process on port 8000 (bound to 0.0.0.0), opens the preview proxy and prints
//! `preview: http://127.0.0.1:PORT/`. Open it: the page shows the session id. Change the
//! message — `echo hello > /tmp/agentcore-preview/message.txt` in a shell of the session, or
//! `--tick 2` to have this program change it every 2 s — and the page updates over its
//! WebSocket. Ctrl-C stops the proxy and the app.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use examples::preview;

#[derive(Parser, Debug)]
#[command(about = "Preview a web app running in an AgentCore session in your browser")]
struct Args {
    /// Runtime ARN (default: an in-process local runtime).
    #[arg(long)]
    runtime: Option<String>,
    /// Endpoint override.
    #[arg(long)]
    endpoint: Option<String>,
    /// Resume this session instead of starting a new one.
    #[arg(long)]
    session: Option<String>,
    /// The app's port in the session (one of the runtime's allowedPorts).
    #[arg(long, default_value_t = preview::PORT)]
    port: u16,
    /// Where the app and its message live in the session.
    #[arg(long, default_value = "/tmp/agentcore-preview")]
    dir: String,
    /// Local address of the preview proxy.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Require a token in the browser (printed in the URL once).
    #[arg(long)]
    token: bool,
    /// Change the message every N seconds (shows live reload without a shell).
    #[arg(long)]
    tick: Option<u64>,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long, hide = true)]
    exit_after: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("preview: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let target = match (&args.runtime, &args.endpoint) {
        (None, None) => {
            let local = agentcore_local::LocalRuntime::builder().start().await?;
            let client = local.client();
            let arn = preview::demo_runtime(&client, "preview_demo").await?;
            examples::Target {
                client,
                arn,
                endpoint: Some(local.endpoint()),
                local: Some(local),
            }
        }
        (None, Some(e)) => {
            let mut t = examples::target(None, Some(e), "preview_demo").await?;
            t.arn = preview::demo_runtime(&t.client, "preview_demo").await?;
            t
        }
        (Some(r), e) => examples::target(Some(r), e.as_deref(), "preview_demo").await?,
    };
    let session = match &args.session {
        Some(id) => target.client.session_with_id(&target.arn, id)?,
        None => target.client.session(&target.arn)?,
    };
    eprintln!("runtime: {}", target.arn);
    eprintln!("session: {}", session.id());
    // The answer of an invocation carries the session's endpoint URL.
    session
        .invoke("{\"prompt\": \"serve a preview\"}")
        .send()
        .await?
        .bytes()
        .await?;
    let Some(endpoint) = session.endpoint() else {
        return Err("the runtime gave this session no endpoint: it needs allowedPorts (including the app's port), and direct access for the session".into());
    };
    eprintln!("session endpoint: {endpoint}");
    let app = preview::start_app(
        &session,
        &args.dir,
        args.port,
        "0.0.0.0",
        "Hello from the session",
    )
    .await?;
    let preview = session
        .preview(args.port)
        .listen(args.listen)
        .require_token(args.token)
        .start()
        .await?;
    println!("preview: {}", preview.url());
    let message = format!("{}/message.txt", args.dir);
    let files = session.files();
    let ticking = async {
        let Some(every) = args.tick else {
            return std::future::pending::<Result<(), agentcore_sdk::Error>>().await;
        };
        let mut n = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(every)).await;
            n += 1;
            files
                .write(&message, format!("Tick {n} from the session"))
                .await?;
        }
    };
    let until = async {
        match args.exit_after {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::select! {
        r = ticking => r?,
        () = until => {}
    }
    eprintln!("stopping");
    preview.shutdown().await;
    app.remove().await?;
    Ok(())
}
