//! `invoke`: a payload to the agent, its reply streamed as it comes (HTTP, or `--ws`).

use std::io::IsTerminal;
use std::time::Duration;

use agentcore_sdk::data::AgentMessage;
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncBufReadExt;

use super::key_value;
use crate::cli::{InvokeArgs, OutputFormat};
use crate::context::Context;
use crate::error::{CliError, Context as _, Result};

pub async fn run(ctx: &Context, args: InvokeArgs) -> Result<u8> {
    if args.ws {
        return websocket(ctx, args).await;
    }
    let payload: Vec<u8> = if args.payload == "-" {
        use tokio::io::AsyncReadExt;
        let mut buf = Vec::new();
        tokio::io::stdin()
            .read_to_end(&mut buf)
            .await
            .context("reading the payload from stdin")?;
        buf
    } else {
        args.payload.clone().into_bytes()
    };
    let (client, arn) = ctx.runtime(args.target.runtime.as_deref()).await?;
    let mut session = match &args.session_id {
        Some(id) => client.session_with_id(&arn, id)?,
        None => client.session(&arn)?,
    };
    if let Some(q) = &args.target.qualifier {
        session = session.with_qualifier(q);
    }
    let mut request = session.invoke(payload);
    for h in &args.headers {
        let (k, v) = key_value(h, "--header")?;
        request = request.header(k, v);
    }
    if let Some(t) = &args.content_type {
        request = request.content_type(t.clone());
    }
    if let Some(a) = &args.accept {
        request = request.accept(a.clone());
    }
    if let Some(t) = &args.bearer_token {
        request = request.bearer_token(t.expose());
    }
    let response = request.send().await?;
    if args.session_id.is_none() && std::io::stderr().is_terminal() {
        eprintln!("[session {}]", session.id());
    }
    let json = ctx.output() == OutputFormat::Json;
    let mut out = std::io::stdout();
    if response.is_event_stream() && !args.raw {
        // Server-sent events: each event's data on a line of its own, as it comes.
        let mut events = response.events();
        while let Some(event) = events.next().await {
            let event = event?;
            let line = if json {
                serde_json::json!({"event": event.event, "data": event.data, "id": event.id})
                    .to_string()
            } else {
                event.data
            };
            if !crate::output::stream(&mut out, format!("{line}\n").as_bytes())? {
                return Ok(crate::output::EXIT_STDOUT_CLOSED);
            }
        }
        return Ok(0);
    }
    let mut body = response.into_stream();
    let mut last = b'\n';
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if let Some(b) = chunk.last() {
            last = *b;
        }
        if !crate::output::stream(&mut out, &chunk)? {
            return Ok(crate::output::EXIT_STDOUT_CLOSED);
        }
    }
    // A reply without a final newline does not run into the prompt on a terminal.
    if last != b'\n' && std::io::stdout().is_terminal() {
        crate::output::stream(&mut out, b"\n")?;
    }
    Ok(0)
}

/// `invoke --ws`: the payload (or each line of stdin) as a message; replies as they come.
async fn websocket(ctx: &Context, args: InvokeArgs) -> Result<u8> {
    if !(args.idle_timeout > 0.0 && args.idle_timeout.is_finite()) {
        return Err(CliError::new("--idle-timeout must be a positive number"));
    }
    if !args.headers.is_empty() || args.content_type.is_some() || args.accept.is_some() {
        return Err(CliError::new(
            "--header, --content-type and --accept are for HTTP invocations, not --ws",
        ));
    }
    let idle = Duration::from_secs_f64(args.idle_timeout);
    let (client, arn) = ctx.runtime(args.target.runtime.as_deref()).await?;
    let session = match &args.session_id {
        Some(id) => client.session_with_id(&arn, id)?,
        None => client.session(&arn)?,
    };
    let mut builder = session.invoke_websocket();
    if let Some(q) = &args.target.qualifier {
        builder = builder.qualifier(q.clone());
    }
    if let Some(t) = &args.bearer_token {
        builder = builder.auth(agentcore_sdk::WebSocketAuth::Bearer(t.expose()));
    }
    let socket = builder.connect().await?;
    if args.session_id.is_none() && std::io::stderr().is_terminal() {
        eprintln!("[session {}]", session.id());
    }
    let (mut sink, mut replies) = socket.split();
    // The input: one message, or one per line of stdin.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<AgentMessage>(16);
    if args.payload == "-" {
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(AgentMessage::Text(line)).await.is_err() {
                    break;
                }
            }
        });
    } else {
        let _ = tx.send(AgentMessage::Text(args.payload.clone())).await;
        drop(tx);
    }
    let mut input_open = true;
    let mut out = std::io::stdout();
    loop {
        let open = input_open;
        // While input goes out, replies are awaited without limit; after, for `idle`.
        let next_reply = async {
            if open {
                Ok(replies.next().await)
            } else {
                tokio::time::timeout(idle, replies.next()).await
            }
        };
        tokio::select! {
            msg = rx.recv(), if open => match msg {
                Some(m) => sink.send(m).await?,
                None => input_open = false,
            },
            reply = next_reply => match reply {
                Err(_) | Ok(None) => break,
                Ok(Some(r)) => {
                    if !print_message(&mut out, r?)? {
                        return Ok(crate::output::EXIT_STDOUT_CLOSED);
                    }
                }
            },
        }
    }
    let _ = sink.close().await;
    Ok(0)
}

/// Prints a reply; `Ok(false)` when stdout was closed by its reader.
fn print_message(out: &mut std::io::Stdout, message: AgentMessage) -> Result<bool> {
    match message {
        AgentMessage::Text(t) => crate::output::stream(out, format!("{t}\n").as_bytes()),
        AgentMessage::Binary(b) => crate::output::stream(out, &b),
    }
}
