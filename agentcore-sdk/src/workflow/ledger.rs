//! The session ledger: an append-only record of every session an experiment starts and
//! whether its stop was acknowledged, so nothing is left billing — also when the process
//! that started them died. [`stop_all`] stops every session a ledger lists as not stopped.
//!
//! ```no_run
//! # async fn f(client: agentcore_sdk::Client) -> Result<(), agentcore_sdk::Error> {
//! use agentcore_sdk::workflow::ledger;
//! // After a crash (or from another machine with the same file):
//! let report = ledger::stop_all(&client, "sessions.ledger").await?;
//! print!("{}", report.table());
//! assert!(report.is_clean(), "some sessions could not be stopped");
//! # Ok(()) }
//! ```
//!
//! ## Format (version 1)
//!
//! JSON Lines: one object per line, each with `"v": 1` (a reader skips lines of other
//! versions and lines it cannot parse, and counts them), `"event"` (`"started"` or
//! `"stopped"`), `"runtimeArn"`, `"sessionId"`, `"qualifier"` (or null), `"experiment"`,
//! `"at"` (RFC 3339) and `"pid"`. The last event of a (runtime, session) pair says whether it
//! is stopped.
//!
//! A `started` line is written and flushed to disk (`fdatasync`) *before* the session's first
//! request, so a crash at any point leaves every session that may be running in the file.
//! Each line is one `write` to a file opened in append mode, so several writers (experiments
//! in one process, or several processes) can share a ledger without interleaving their lines.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::Error;
use crate::session::Session;

/// The format version this SDK writes and reads.
pub const LEDGER_VERSION: u32 = 1;

/// One line of a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    v: u32,
    event: Event,
    runtime_arn: String,
    session_id: String,
    qualifier: Option<String>,
    #[serde(default)]
    experiment: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    pid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Event {
    Started,
    Stopped,
}

/// An open ledger file, appended to. Cheap to clone; clones share the file.
#[derive(Clone)]
pub struct Ledger {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
    experiment: String,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("path", &self.path)
            .field("experiment", &self.experiment)
            .finish()
    }
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

impl Ledger {
    /// Opens (or creates) the ledger at `path` for appending. A file that ends in a torn line
    /// (a crash mid-write) gets a line break first, so the next record stands on its own.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(io("open the session ledger", &path))?;
        let len = file
            .metadata()
            .map_err(io("read the session ledger", &path))?
            .len();
        if len > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(io("read the session ledger", &path))?;
            if last != *b"\n" {
                file.write_all(b"\n")
                    .map_err(io("append to the session ledger", &path))?;
            }
        }
        Ok(Self {
            path,
            file: Arc::new(Mutex::new(file)),
            experiment: String::new(),
        })
    }

    /// The same file, its records naming `experiment` (e.g. `bench`, `race`).
    pub fn for_experiment(&self, experiment: impl Into<String>) -> Self {
        Self {
            experiment: experiment.into(),
            ..self.clone()
        }
    }

    /// Where the ledger is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records that `session` is about to start, durably, before anything is sent to it.
    pub async fn record_started(&self, session: &Session) -> Result<(), Error> {
        self.append(Event::Started, session, true).await
    }

    /// Records that `session`'s stop was acknowledged.
    pub async fn record_stopped(&self, session: &Session) -> Result<(), Error> {
        self.append(Event::Stopped, session, false).await
    }

    async fn append(&self, event: Event, session: &Session, sync: bool) -> Result<(), Error> {
        let record = Record {
            v: LEDGER_VERSION,
            event,
            runtime_arn: session.arn().as_str().to_owned(),
            session_id: session.id().as_str().to_owned(),
            qualifier: session.qualifier().map(str::to_owned),
            experiment: self.experiment.clone(),
            at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            pid: std::process::id(),
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| Error::MalformedResponse {
            what: "a ledger record cannot be encoded".into(),
            source: Some(Box::new(e)),
        })?;
        line.push(b'\n');
        let file = self.file.clone();
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            let mut f = file
                .lock()
                .map_err(|_| std::io::Error::other("ledger lock poisoned"))?;
            // One write per line: appends from several writers never interleave.
            f.write_all(&line)?;
            if sync {
                f.sync_data()?;
            }
            Ok::<(), std::io::Error>(())
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r);
        written.map_err(io("append to the session ledger", &path))
    }

    /// Reads a ledger: every session it names, and whether its last event is a stop.
    pub fn read(path: impl AsRef<Path>) -> Result<LedgerState, Error> {
        let path = path.as_ref();
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("read the session ledger", path)(e)),
        };
        let mut state = LedgerState::default();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for line in text.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record = match serde_json::from_slice::<Record>(line) {
                Ok(r) if r.v == LEDGER_VERSION => r,
                _ => {
                    state.skipped_lines = state.skipped_lines.saturating_add(1);
                    continue;
                }
            };
            let key = (record.runtime_arn.clone(), record.session_id.clone());
            let stopped = record.event == Event::Stopped;
            match index.get(&key).and_then(|i| state.sessions.get_mut(*i)) {
                Some(s) => s.stopped = stopped,
                None => {
                    index.insert(key, state.sessions.len());
                    state.sessions.push(LedgerSession {
                        runtime_arn: record.runtime_arn,
                        session_id: record.session_id,
                        qualifier: record.qualifier,
                        experiment: record.experiment,
                        started_at: record.at,
                        stopped,
                    });
                }
            }
        }
        Ok(state)
    }
}

/// What a ledger holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LedgerState {
    /// Every session, in the order they were first recorded.
    pub sessions: Vec<LedgerSession>,
    /// Lines that could not be read (torn by a crash, or of another format version).
    pub skipped_lines: usize,
}

impl LedgerState {
    /// The sessions whose stop was never acknowledged.
    pub fn not_stopped(&self) -> impl Iterator<Item = &LedgerSession> {
        self.sessions.iter().filter(|s| !s.stopped)
    }
}

/// One session a ledger names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LedgerSession {
    /// The runtime's ARN.
    pub runtime_arn: String,
    /// The session id.
    pub session_id: String,
    /// The endpoint, if not `DEFAULT`.
    pub qualifier: Option<String>,
    /// The experiment that started it.
    pub experiment: String,
    /// When it was recorded as started (RFC 3339).
    pub started_at: String,
    /// Whether its last event is an acknowledged stop.
    pub stopped: bool,
}

/// What [`stop_all`] did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StopAllReport {
    /// Sessions the ledger listed as not stopped, now stopped (or found gone).
    pub stopped: Vec<LedgerSession>,
    /// Sessions already recorded as stopped.
    pub already_stopped: usize,
    /// Sessions that could not be stopped, with the error.
    pub failed: Vec<(LedgerSession, String)>,
    /// Ledger lines that could not be read.
    pub skipped_lines: usize,
}

impl StopAllReport {
    /// `true` when every session the ledger lists is stopped now.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One line per session stopped or failed, and a summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for s in &self.stopped {
            out.push_str(&format!("stopped  {}  {}\n", s.session_id, s.runtime_arn));
        }
        for (s, e) in &self.failed {
            out.push_str(&format!(
                "FAILED   {}  {}  {e}\n",
                s.session_id, s.runtime_arn
            ));
        }
        out.push_str(&format!(
            "{} stopped now, {} already stopped, {} failed{}\n",
            self.stopped.len(),
            self.already_stopped,
            self.failed.len(),
            if self.skipped_lines > 0 {
                format!(", {} unreadable ledger lines skipped", self.skipped_lines)
            } else {
                String::new()
            }
        ));
        out
    }
}

/// Stops every session `ledger` lists as not stopped (32 at a time), records each
/// acknowledged stop in it, and reports. A session the service no longer knows counts as
/// stopped. Safe to run again, and while the experiment that wrote the ledger still runs
/// (its sessions are then stopped under it).
pub async fn stop_all(client: &Client, ledger: impl AsRef<Path>) -> Result<StopAllReport, Error> {
    let path = ledger.as_ref();
    let state = Ledger::read(path)?;
    let writer = Ledger::open(path)?.for_experiment("stop-all");
    let mut report = StopAllReport {
        already_stopped: state.sessions.iter().filter(|s| s.stopped).count(),
        skipped_lines: state.skipped_lines,
        ..StopAllReport::default()
    };
    let results: Vec<(LedgerSession, Result<(), Error>)> =
        futures::stream::iter(state.not_stopped().cloned())
            .map(|s| {
                let writer = writer.clone();
                async move {
                    let result = async {
                        let mut session = client.session_with_id(&s.runtime_arn, &s.session_id)?;
                        if let Some(q) = &s.qualifier {
                            session = session.with_qualifier(q);
                        }
                        super::lifecycle::stop_acknowledged(&session).await?;
                        writer.record_stopped(&session).await
                    }
                    .await;
                    (s, result)
                }
            })
            .buffer_unordered(32)
            .collect()
            .await;
    for (s, r) in results {
        match r {
            Ok(()) => report.stopped.push(s),
            Err(e) => report.failed.push((s, e.to_string())),
        }
    }
    Ok(report)
}
