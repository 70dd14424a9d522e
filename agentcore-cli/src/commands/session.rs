//! What acts on one session: stop, files (`cp`), processes (`ps`, `logs`, `kill`) and
//! `preview`; and `sessions stop-all` on a ledger.

use std::path::PathBuf;
use std::time::Duration;

use agentcore_sdk::Session;
use agentcore_sdk::files::{FileKind, Progress, TransferReport};
use agentcore_sdk::process::{ProcessEvent, ProcessId, ProcessState, Signal, StdinState};
use futures::StreamExt;

use crate::cli::{
    CpArgs, KillArgs, LogsArgs, OutputFormat, PreviewArgs, SessionArgs, SessionsCommand, Target,
};
use crate::context::Context;
use crate::error::{CliError, Context as _, Result};
use crate::output::{Table, print_json, print_stdout, time};

/// The session `id` of the runtime `target` names.
async fn session_of(ctx: &Context, target: &Target, id: &str) -> Result<Session> {
    let (client, arn) = ctx.runtime(target.runtime.as_deref()).await?;
    let mut session = client.session_with_id(&arn, id)?;
    if let Some(q) = &target.qualifier {
        session = session.with_qualifier(q);
    }
    Ok(session)
}

pub async fn sessions(ctx: &Context, command: SessionsCommand) -> Result<u8> {
    let format = ctx.output();
    match command {
        SessionsCommand::Stop { target, session_id } => {
            let session = session_of(ctx, &target, &session_id).await?;
            session.stop().await?;
            match format {
                OutputFormat::Json => {
                    print_json(&serde_json::json!({"sessionId": session_id, "stopped": true}))?
                }
                _ => print_stdout(&format!("{session_id}\n"))?,
            }
            Ok(0)
        }
        SessionsCommand::StopAll { ledger } => {
            // A mistyped path must not read as "nothing left to stop".
            if !ledger.is_file() {
                return Err(CliError::new(format!(
                    "{}: no such ledger file",
                    ledger.display()
                )));
            }
            let state = agentcore_sdk::workflow::Ledger::read(&ledger)?;
            // The region of the ledger's sessions, when none is configured.
            let hint = state
                .sessions
                .first()
                .and_then(|s| s.runtime_arn.parse::<agentcore_sdk::RuntimeArn>().ok())
                .map(|a| a.region().to_owned());
            let client = ctx.client(hint.as_deref()).await?;
            let report = agentcore_sdk::workflow::stop_all(client, &ledger).await?;
            match format {
                OutputFormat::Json => print_stdout(&format!("{}\n", report.to_json()))?,
                _ => print_stdout(&report.table())?,
            }
            Ok(if report.is_clean() { 0 } else { 1 })
        }
    }
}

/// One side of `cp`.
#[derive(Debug, PartialEq)]
enum Location {
    Local(PathBuf),
    /// `SESSION_ID:PATH`; the session is `None` for `:PATH`.
    Remote(Option<String>, String),
}

fn location(s: &str) -> Location {
    let local =
        s.starts_with('/') || s.starts_with("./") || s.starts_with("../") || s == "." || s == "..";
    match s.split_once(':') {
        Some((session, path)) if !local => Location::Remote(
            (!session.is_empty()).then(|| session.to_owned()),
            path.to_owned(),
        ),
        _ => Location::Local(PathBuf::from(s)),
    }
}

fn base_name(path: &str) -> Option<&str> {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
}

fn progress_bar() -> indicatif::ProgressBar {
    if !crate::output::progress_allowed() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

fn on_progress(bar: &indicatif::ProgressBar) -> impl Fn(Progress) + Send + Sync + 'static {
    let bar = bar.clone();
    move |p: Progress| {
        if let Some(t) = p.total {
            bar.set_length(t);
        }
        bar.set_position(p.done);
    }
}

pub async fn cp(ctx: &Context, args: CpArgs) -> Result<u8> {
    let (from, to) = (location(&args.source), location(&args.destination));
    let (session_part, upload) = match (&from, &to) {
        (Location::Local(_), Location::Remote(s, _)) => (s.clone(), true),
        (Location::Remote(s, _), Location::Local(_)) => (s.clone(), false),
        (Location::Local(_), Location::Local(_)) => {
            return Err(CliError::new(
                "one side of cp must be in a session: SESSION_ID:PATH or :PATH with --session-id",
            ));
        }
        (Location::Remote(..), Location::Remote(..)) => {
            return Err(CliError::new(
                "cp copies between this machine and a session, not between two session paths",
            ));
        }
    };
    let session_id = session_part
        .or_else(|| args.session_id.clone())
        .ok_or_else(|| CliError::new(":PATH needs --session-id (or write SESSION_ID:PATH)"))?;
    let session = session_of(ctx, &args.target, &session_id).await?;
    let files = session.files();
    let bar = progress_bar();
    let report: TransferReport = match (from, to) {
        (Location::Local(local), Location::Remote(_, mut remote)) => {
            let meta = std::fs::metadata(&local)
                .map_err(|e| CliError::from(e).context(local.display()))?;
            // Into an existing directory, under the source's name (as cp and docker cp do).
            if files
                .stat(&remote)
                .await
                .is_ok_and(|e| e.kind == FileKind::Dir)
                && let Some(name) = local.file_name().and_then(|n| n.to_str())
            {
                remote = format!("{}/{name}", remote.trim_end_matches('/'));
            }
            let upload_req = if meta.is_dir() {
                files.upload_dir(&local, &remote)
            } else {
                use std::os::unix::fs::PermissionsExt;
                files
                    .upload(&local, &remote)
                    .mode(meta.permissions().mode() & 0o7777)
            };
            bar.set_length(meta.len());
            upload_req
                .progress(on_progress(&bar))
                .send()
                .await
                .context(format!(
                    "copying {} to {session_id}:{remote}",
                    local.display()
                ))?
        }
        (Location::Remote(_, remote), Location::Local(mut local)) => {
            let entry = files
                .stat(&remote)
                .await
                .context(format!("{session_id}:{remote}"))?;
            if local.is_dir()
                && let Some(name) = base_name(&remote)
            {
                local = local.join(name);
            }
            let req = if entry.kind == FileKind::Dir {
                files.download_dir(&remote, &local)
            } else {
                bar.set_length(entry.size);
                files.download(&remote, &local)
            };
            req.progress(on_progress(&bar))
                .send()
                .await
                .context(format!(
                    "copying {session_id}:{remote} to {}",
                    local.display()
                ))?
        }
        _ => return Err(CliError::new("cp: nothing to copy")),
    };
    bar.finish_and_clear();
    if ctx.output() == OutputFormat::Json {
        print_json(&serde_json::json!({
            "bytes": report.bytes,
            "sha256": report.sha256,
            "elapsedMs": report.elapsed.as_millis() as u64,
            "resumed": report.resumed,
            "upload": upload,
        }))?;
    } else {
        eprintln!(
            "copied {} bytes{} in {:.1} s",
            report.bytes,
            if report.sha256.is_empty() {
                String::new()
            } else {
                format!(" (sha256 {})", report.sha256)
            },
            report.elapsed.as_secs_f64()
        );
    }
    Ok(0)
}

fn state_word(state: &ProcessState) -> (&'static str, String) {
    match state {
        ProcessState::Running => ("running", String::new()),
        ProcessState::Exited(e) => (
            "exited",
            match e.signal {
                Some(s) => format!("signal {s}"),
                None => e.code.to_string(),
            },
        ),
        ProcessState::Lost => ("lost", String::new()),
        _ => ("unknown", String::new()),
    }
}

pub async fn ps(ctx: &Context, args: SessionArgs) -> Result<u8> {
    let format = ctx.output();
    let session = session_of(ctx, &args.target, &args.session_id).await?;
    let all = session.processes().await?;
    if format == OutputFormat::Json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|p| {
                let (state, _) = state_word(&p.state);
                let (code, signal) = match &p.state {
                    ProcessState::Exited(e) => (Some(e.code), e.signal),
                    _ => (None, None),
                };
                serde_json::json!({
                    "id": p.id.as_str(),
                    "state": state,
                    "exitCode": code,
                    "signal": signal,
                    "command": p.command,
                    "started": time(p.started),
                    "ended": p.ended.map(time),
                    "stdoutBytes": p.stdout_bytes,
                    "stderrBytes": p.stderr_bytes,
                    "stdin": match p.stdin {
                        StdinState::Open { .. } => "open",
                        StdinState::Closed { .. } => "closed",
                        _ => "none",
                    },
                })
            })
            .collect();
        print_json(&rows)?;
        return Ok(0);
    }
    let mut t = Table::new(&[
        "id", "state", "exit", "started", "stdout", "stderr", "command",
    ]);
    for p in &all {
        let (state, exit) = state_word(&p.state);
        t.row(vec![
            p.id.as_str().to_owned(),
            state.to_owned(),
            exit,
            time(p.started),
            p.stdout_bytes.to_string(),
            p.stderr_bytes.to_string(),
            p.command.replace('\n', " "),
        ]);
    }
    print_stdout(&t.render(format))?;
    Ok(0)
}

fn process_id(s: &str) -> Result<ProcessId> {
    s.parse::<ProcessId>().context("process id")
}

pub async fn logs(ctx: &Context, args: LogsArgs) -> Result<u8> {
    let session = session_of(ctx, &args.session.target, &args.session.session_id).await?;
    let process = session.process(process_id(&args.process)?);
    // Without --follow: what the process has written so far.
    let until = if args.follow {
        None
    } else {
        let info = process
            .info()
            .await
            .context(format!("process {}", args.process))?;
        if info.stdout_bytes == 0 && info.stderr_bytes == 0 {
            return Ok(0);
        }
        Some((info.stdout_bytes, info.stderr_bytes))
    };
    let mut output = process.output();
    let (mut seen_out, mut seen_err) = (0u64, 0u64);
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let mut stderr_open = true;
    while let Some(event) = output.next().await {
        match event.context(format!("process {}", args.process))? {
            ProcessEvent::Stdout { offset, data } => {
                if !crate::output::stream(&mut stdout, &data)? {
                    return Ok(crate::output::EXIT_STDOUT_CLOSED);
                }
                seen_out = offset.saturating_add(data.len() as u64);
            }
            ProcessEvent::Stderr { offset, data } => {
                if stderr_open {
                    stderr_open = crate::output::stream(&mut stderr, &data)?;
                }
                seen_err = offset.saturating_add(data.len() as u64);
            }
            ProcessEvent::Exited(_) => break,
            _ => {}
        }
        if let Some((o, e)) = until
            && seen_out >= o
            && seen_err >= e
        {
            break;
        }
    }
    Ok(0)
}

fn signal(s: &str) -> Result<Signal> {
    let name = s.trim().to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    Ok(match name {
        "TERM" => Signal::TERM,
        "KILL" => Signal::KILL,
        "INT" => Signal::INT,
        "HUP" => Signal::HUP,
        other => match other.parse::<i32>() {
            Ok(n) => Signal::new(n)?,
            Err(_) => {
                return Err(CliError::new(format!(
                    "unknown signal {s:?}: TERM, KILL, INT, HUP or a number"
                )));
            }
        },
    })
}

pub async fn kill(ctx: &Context, args: KillArgs) -> Result<u8> {
    let sig = signal(&args.signal)?;
    let session = session_of(ctx, &args.session.target, &args.session.session_id).await?;
    let process = session.process(process_id(&args.process)?);
    process
        .kill(sig)
        .await
        .context(format!("process {}", args.process))?;
    Ok(0)
}

pub async fn preview(ctx: &Context, args: PreviewArgs) -> Result<u8> {
    let mut session = session_of(ctx, &args.target, &args.session_id).await?;
    match &args.session_endpoint {
        Some(url) => {
            session = session.with_endpoint(agentcore_sdk::data::SessionEndpoint::parse(url)?);
        }
        None => {
            // An invocation's answer carries the session's endpoint.
            session
                .invoke(args.payload.clone())
                .send()
                .await?
                .bytes()
                .await?;
        }
    }
    if session.endpoint().is_none() {
        return Err(CliError::new(
            "the session has no session endpoint: its runtime needs allowedPorts (with this port) and the service must offer direct access",
        ));
    }
    let preview = session
        .preview(args.port)
        .listen(args.listen)
        .require_token(args.token)
        .start()
        .await?;
    match ctx.output() {
        OutputFormat::Json => print_json(&serde_json::json!({"url": preview.url()}))?,
        _ => print_stdout(&format!("{}\n", preview.url()))?,
    }
    eprintln!(
        "[preview of port {} of session {} · Ctrl-C stops it]",
        args.port, args.session_id
    );
    match args.duration {
        Some(s) => tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(s)) => {}
            () = super::interrupted() => {}
        },
        None => super::interrupted().await,
    }
    preview.shutdown().await;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_locations() {
        assert_eq!(
            location("abc:/mnt/workspace/x"),
            Location::Remote(Some("abc".into()), "/mnt/workspace/x".into())
        );
        assert_eq!(location(":/tmp/x"), Location::Remote(None, "/tmp/x".into()));
        assert_eq!(location("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(location("/tmp/a:b"), Location::Local("/tmp/a:b".into()));
        assert_eq!(location("file.txt"), Location::Local("file.txt".into()));
        assert_eq!(base_name("/mnt/workspace/dir/"), Some("dir"));
        assert_eq!(base_name("/"), None);
    }

    #[test]
    fn signals() {
        assert_eq!(signal("term").unwrap().number(), 15);
        assert_eq!(signal("SIGKILL").unwrap().number(), 9);
        assert_eq!(signal("10").unwrap().number(), 10);
        assert!(signal("nope").is_err());
    }
}
