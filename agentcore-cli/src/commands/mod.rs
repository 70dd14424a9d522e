//! One module per group of subcommands; `run` dispatches.

mod control;
mod exec;
mod experiments;
mod invoke;
#[cfg(feature = "local")]
mod local;
mod session;

use std::path::Path;

use crate::cli::Command;
use crate::context::Context;
use crate::error::{CliError, Result};

/// Runs one command; its exit code.
pub async fn run(ctx: &Context, command: Command) -> Result<u8> {
    match command {
        Command::Exec(a) => exec::run(ctx, a).await,
        Command::Invoke(a) => invoke::run(ctx, a).await,
        Command::Runtimes(c) => control::runtimes(ctx, c).await,
        Command::Endpoints(c) => control::endpoints(ctx, c).await,
        Command::Status(a) => control::status(ctx, a).await,
        Command::Sessions(c) => session::sessions(ctx, c).await,
        Command::Cp(a) => session::cp(ctx, a).await,
        Command::Ps(a) => session::ps(ctx, a).await,
        Command::Logs(a) => session::logs(ctx, a).await,
        Command::Kill(a) => session::kill(ctx, a).await,
        Command::Preview(a) => session::preview(ctx, a).await,
        Command::Race(a) => experiments::race(ctx, a).await,
        Command::Bench(a) => experiments::bench(ctx, a).await,
        Command::Watch(a) => experiments::watch(ctx, a).await,
        #[cfg(feature = "local")]
        Command::Local(a) => local::run(a).await,
        // Handled before a runtime exists.
        Command::Completions { .. } | Command::Man { .. } => Ok(0),
    }
}

/// Reads a settings file: TOML when its name ends in `.toml`, else JSON; `-` is JSON on
/// stdin.
pub fn read_settings(path: &Path) -> Result<serde_json::Value> {
    let shown = path.display().to_string();
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| CliError::from(e).context("stdin"))?
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::from(e).context(&shown))?
    };
    let toml = path.extension().is_some_and(|e| e == "toml");
    let value: serde_json::Value = if toml {
        toml::from_str(&text).map_err(|e| {
            CliError::new(format!(
                "{shown}: invalid TOML: {}",
                crate::error::one_line(&e)
            ))
        })?
    } else {
        serde_json::from_str(&text)
            .map_err(|e| CliError::new(format!("{shown}: invalid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(CliError::new(format!(
            "{shown}: must hold an object of settings"
        )));
    }
    Ok(value)
}

/// Splits `NAME=VALUE` (the flag's name in the error).
pub fn key_value<'a>(s: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        // The value is never echoed: it may be a secret (`-H 'Authorization: Bearer ...'`).
        _ => Err(CliError::new(format!(
            "{flag} expects NAME=VALUE (a value of {} characters without `=` was given; \
             it is not shown, as it may be a secret)",
            s.chars().count()
        ))),
    }
}

/// A word for a shell command line: as it is when it is safe, else single-quoted.
pub fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut t) => {
                t.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("abc-1_2"), "abc-1_2");
        assert_eq!(
            shell_word("arn:aws:bedrock-agentcore:us-east-1:1:runtime/x-1"),
            "arn:aws:bedrock-agentcore:us-east-1:1:runtime/x-1"
        );
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn settings_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "name = ").unwrap();
        let e = read_settings(&bad).unwrap_err();
        assert!(e.message.contains("invalid TOML"), "{}", e.message);
        assert!(!e.message.contains('\n'));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "[1, 2]").unwrap();
        let e = read_settings(&bad).unwrap_err();
        assert!(e.message.contains("must hold an object"), "{}", e.message);
        let e = read_settings(&dir.path().join("missing.json")).unwrap_err();
        assert!(e.message.contains("missing.json"), "{}", e.message);
        let good = dir.path().join("rt.toml");
        std::fs::write(
            &good,
            "agentRuntimeName = \"x\"\n[lifecycleConfiguration]\nmaxLifetime = 3600\n",
        )
        .unwrap();
        let v = read_settings(&good).unwrap();
        assert_eq!(v["lifecycleConfiguration"]["maxLifetime"], 3600);
    }
}
