//! *Watch* — look over an agent's shoulder. While an agent works in a session (a long
//! invocation in flight), a person attaches an interactive shell to the same session, tails
//! the agent's log and drops a note the agent reads at its next step. Nothing here touches
//! the invocation: detaching leaves the agent undisturbed.
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client, arn: &str, id: &str) -> Result<(), agentcore_sdk::Error> {
//! use agentcore_sdk::workflow::watch::Watch;
//! use futures::StreamExt;
//! let session = client.session_with_id(arn, id)?; // the session the agent works in
//! let watch = Watch::new(&session); // /mnt/workspace/agent.log, /mnt/workspace/NOTE.md
//! for line in watch.tail(20).await? {
//!     println!("{line}");
//! }
//! watch.note("Use the v2 API, not v1.").await?;
//! let mut follow = watch.follow().await?;
//! while let Some(line) = follow.next().await {
//!     println!("agent: {}", line?);
//! }
//! // Or interactively: a shell in the same session.
//! let shell = watch.shell().connect().await?;
//! # drop(shell); Ok(()) }
//! ```

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};

use crate::data::CommandEvent;
use crate::error::Error;
use crate::session::Session;
use crate::types::Command;

/// Where the agent of the examples logs its steps.
pub const DEFAULT_LOG: &str = "/mnt/workspace/agent.log";
/// Where the agent of the examples looks for a note between steps.
pub const DEFAULT_NOTE: &str = "/mnt/workspace/NOTE.md";

/// The longest line [`Watch::follow`] yields whole; a longer one is cut into pieces of
/// this size.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Tools to watch an agent at work in `session`. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Watch {
    session: Session,
    log: String,
    note: String,
    follow_for: Duration,
}

/// Lines of the agent's log as they are written (see [`Watch::follow`]).
pub type LogLines = Pin<Box<dyn Stream<Item = Result<String, Error>> + Send>>;

impl Watch {
    /// Watches `session`, whose agent logs to [`DEFAULT_LOG`] and reads [`DEFAULT_NOTE`].
    pub fn new(session: &Session) -> Self {
        Self {
            session: session.clone(),
            log: DEFAULT_LOG.to_owned(),
            note: DEFAULT_NOTE.to_owned(),
            follow_for: Duration::from_secs(3600),
        }
    }

    /// The agent's log file.
    pub fn log_path(mut self, path: impl Into<String>) -> Self {
        self.log = path.into();
        self
    }

    /// The note file the agent reads.
    pub fn note_path(mut self, path: impl Into<String>) -> Self {
        self.note = path.into();
        self
    }

    /// How long [`follow`](Self::follow) follows (default and maximum: one hour, the
    /// service's longest command).
    pub fn follow_for(mut self, d: Duration) -> Self {
        self.follow_for = d;
        self
    }

    /// The session watched.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The last `n` lines of the log (none when there is no log yet).
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn tail(&self, n: usize) -> Result<Vec<String>, Error> {
        let out = self
            .session
            .run(format!(
                "tail -n {n} -- {} 2>/dev/null || true",
                Command::quote(&self.log)
            ))
            .await?
            .check()?;
        Ok(out.stdout.lines().map(str::to_owned).collect())
    }

    /// Follows the log from its start as lines are written (`tail -F`), until the stream is
    /// dropped or [`follow_for`](Self::follow_for) runs out. A last line without a newline
    /// is yielded when the stream ends.
    ///
    /// Dropping the future, or later the stream, ends the `tail -F` command's stream (the command
    /// fares as a dropped [`CommandStream`](crate::CommandStream); it is bounded by `follow_for`).
    pub async fn follow(&self) -> Result<LogLines, Error> {
        let stream = self
            .session
            .command(format!(
                "tail -n +1 -F -- {} 2>/dev/null",
                Command::quote(&self.log)
            ))
            .timeout(self.follow_for)
            .send()
            .await?;
        let lines = futures::stream::unfold(
            (
                stream,
                String::new(),
                std::collections::VecDeque::new(),
                false,
            ),
            |(mut stream, mut pending, mut ready, mut done)| async move {
                loop {
                    if let Some(line) = ready.pop_front() {
                        return Some((Ok(line), (stream, pending, ready, done)));
                    }
                    if done {
                        return None;
                    }
                    match stream.next().await {
                        Some(Ok(CommandEvent::Delta { stdout, .. })) => {
                            pending.push_str(&stdout);
                            // One scan per delta: every complete line at once.
                            if let Some(last) = pending.rfind('\n') {
                                let rest = pending.split_off(last.saturating_add(1));
                                pending.pop();
                                ready.extend(pending.split('\n').map(str::to_owned));
                                pending = rest;
                            }
                            while pending.len() > MAX_LINE_BYTES {
                                let cut = crate::data::floor_boundary(&pending, MAX_LINE_BYTES);
                                ready.push_back(pending.drain(..cut).collect());
                            }
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            done = true;
                            return Some((Err(e), (stream, pending, ready, done)));
                        }
                        None => {
                            done = true;
                            if !pending.is_empty() {
                                ready.push_back(std::mem::take(&mut pending));
                            }
                        }
                    }
                }
            },
        );
        Ok(Box::pin(lines))
    }

    /// Writes `text` to the note file, atomically (the agent never reads half a note).
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    /// The note is renamed into place only at the end: the agent never reads half of it.
    pub async fn note(&self, text: &str) -> Result<(), Error> {
        let tmp = format!(
            "{}.tmp-{}",
            self.note,
            crate::types::SessionId::generate().as_str()
        );
        self.session.write_file(&tmp, text.as_bytes()).await?;
        self.session
            .run(format!(
                "mv -f -- {} {}",
                Command::quote(&tmp),
                Command::quote(&self.note)
            ))
            .await?
            .check()?;
        Ok(())
    }

    /// An interactive shell in the watched session; finish with `.connect().await`.
    pub fn shell(&self) -> crate::shell::ShellBuilder {
        self.session.shell()
    }
}
