//! Following a helper subcommand that prints lines for a long time (a process's output, a
//! wait, a watch): one command at a time, started again from where the caller is when its
//! stream is cut, stalls, or runs out its time.

use std::time::Duration;

use futures::StreamExt;

use super::{MISSING, backoff, command_text, transient};
use crate::data::{CommandEvent, CommandStream};
use crate::error::Error;
use crate::session::Session;

/// Consecutive failed attempts (no complete line between them) before giving up.
pub(crate) const MAX_FAILURES: u32 = 20;

/// What [`Follower::next`] gives.
#[derive(Debug)]
pub(crate) enum Followed {
    /// One complete line (without its newline).
    Line(String),
    /// The command ended well; the caller decides whether to follow on (with new arguments).
    Ended,
}

/// Follows `helper sub args…`, the arguments given anew at each (re)start.
pub(crate) struct Follower {
    session: Session,
    sub: &'static str,
    stream: Option<CommandStream>,
    /// The unfinished line of the current stream (dropped with it: a line counts only whole).
    partial: String,
    /// Lines complete but not handed out yet.
    lines: std::collections::VecDeque<String>,
    install: bool,
    failures: u32,
    idle: Duration,
    stderr: String,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("sub", &self.sub)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower of `sub`; a stream silent for `idle` counts as cut (the helper prints a
    /// heartbeat every 10 s).
    pub(crate) fn new(session: Session, sub: &'static str, idle: Duration) -> Self {
        Self {
            session,
            sub,
            stream: None,
            partial: String::new(),
            lines: Default::default(),
            install: false,
            failures: 0,
            idle,
            stderr: String::new(),
        }
    }

    /// Drops the current command (its stream; the helper command ends when the service sees
    /// the stream gone).
    pub(crate) fn stop(&mut self) {
        self.stream = None;
        self.partial.clear();
    }

    async fn fail(&mut self, e: Error) -> Result<(), Error> {
        self.stop();
        if !transient(&e) || self.failures >= MAX_FAILURES {
            return Err(e);
        }
        tracing::debug!(sub = self.sub, failures = self.failures, error = %e, "follow cut; starting again");
        tokio::time::sleep(backoff(self.failures)).await;
        self.failures = self.failures.saturating_add(1);
        Ok(())
    }

    /// The next line, starting `helper sub args` when no command is running.
    pub(crate) async fn next(&mut self, args: &[String]) -> Result<Followed, Error> {
        loop {
            if let Some(line) = self.lines.pop_front() {
                return Ok(Followed::Line(line));
            }
            let Some(stream) = self.stream.as_mut() else {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let started = self
                    .session
                    .command(command_text(self.sub, &args, self.install))
                    .timeout(super::LONG)
                    .send()
                    .await;
                match started {
                    Ok(s) => {
                        self.stream = Some(s);
                        self.stderr.clear();
                    }
                    Err(e) => self.fail(e).await?,
                }
                continue;
            };
            let next = tokio::time::timeout(self.idle, stream.next()).await;
            match next {
                Err(_) => {
                    let idle = self.idle;
                    self.fail(Error::Timeout {
                        operation: "InvokeAgentRuntimeCommand (silent stream)",
                        after: idle,
                    })
                    .await?;
                }
                Ok(None) => {
                    self.stop();
                }
                Ok(Some(Err(e))) => self.fail(e).await?,
                Ok(Some(Ok(CommandEvent::Delta { stdout, stderr }))) => {
                    if self.stderr.len() < 4096 {
                        self.stderr.push_str(&stderr);
                    }
                    self.partial.push_str(&stdout);
                    while let Some(nl) = self.partial.find('\n') {
                        let rest = self.partial.split_off(nl.saturating_add(1));
                        let mut line = std::mem::replace(&mut self.partial, rest);
                        line.pop();
                        self.failures = 0;
                        self.lines.push_back(line);
                    }
                }
                Ok(Some(Ok(CommandEvent::Stop { exit_code, status }))) => {
                    self.stop();
                    if exit_code == MISSING && !self.install {
                        self.install = true;
                        continue;
                    }
                    let out = crate::data::CommandOutput {
                        stdout: String::new(),
                        stderr: std::mem::take(&mut self.stderr),
                        exit_code,
                        status,
                        truncated: false,
                    };
                    super::check(out)?;
                    return Ok(Followed::Ended);
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}
