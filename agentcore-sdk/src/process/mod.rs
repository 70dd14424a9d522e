//! Processes that outlive a stream: start a command detached, keep its id, read its output
//! from any offset (after a cut, a client restart, or from another program), wait for it,
//! signal it, feed and close its stdin, list them.
//!
//! Built on one-shot commands only (no agent in the image): a small versioned helper script
//! the SDK places in the session starts the command under `setsid`, with its stdout and
//! stderr in files in the session, and reads them back by byte offset. **Where the output
//! is kept:** `$HOME/.agentcore/processes/<id>/` of the user that runs commands (root, so
//! `/root/...` on the service), in the session's own filesystem: it lasts as long as the
//! session's microVM (until `StopRuntimeSession`, the idle timeout or the session's maximum
//! lifetime), or until [`Process::remove`]. It is not in session storage: a stopped session
//! ends its processes, so their output goes with them. Output is not capped: a process that
//! prints without end fills the disk of its session.
//!
//! ```no_run
//! # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
//! use futures::StreamExt;
//! use agentcore_sdk::process::ProcessEvent;
//!
//! let test = session
//!     .spawn("cargo test 2>&1")
//!     .cwd("/mnt/workspace/repo")
//!     .id("tests-of-iteration-3")? // a start cut in flight and sent again runs nothing twice
//!     .start()
//!     .await?;
//! let mut output = test.output(); // resumes by itself after a cut
//! while let Some(event) = output.next().await {
//!     match event? {
//!         ProcessEvent::Stdout { data, .. } => print!("{}", String::from_utf8_lossy(&data)),
//!         ProcessEvent::Exited(exit) => println!("exit {}", exit.code),
//!         _ => {}
//!     }
//! }
//! // Tomorrow, from another program: the same id, the output from where it stopped.
//! let again = session.process(test.id().clone());
//! let mut rest = again.output_from(output.offsets());
//! # Ok(()) }
//! ```
//!
//! A process may run longer than a command's 3,600 s: reading and waiting are made of
//! commands that each end before that limit and are started again where they left off.

use std::fmt;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::Stream;

use crate::error::Error;
use crate::helper::follow::{Followed, Follower};
use crate::helper::{self, SHORT};
use crate::session::Session;
use crate::types::Command;

/// How long a read or wait command follows before it ends and is started again (under the
/// service's 3,600 s).
const FOLLOW_SECONDS: u64 = 3000;
/// A stream silent this long counts as cut (the helper sends a heartbeat every 10 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Raw bytes of stdin per command (its base64 stays well under the command limit).
const STDIN_CHUNK: usize = 36 * 1024;

/// A process id: 1 to 64 of `A-Z a-z 0-9 _ -`, chosen by the client ([`ProcessId::generate`]
/// makes a random one). Starting twice with the same id starts one process.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(String);

impl ProcessId {
    /// The longest id.
    pub const MAX_LEN: usize = 64;

    /// A new random id (32 hex digits).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProcessId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                "processId",
                format!("must be 1 to 64 of A-Z a-z 0-9 _ -, got {s:?}"),
            ))
        }
    }
}

impl TryFrom<&str> for ProcessId {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        s.parse()
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A signal number (1 to 64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

impl Signal {
    /// `SIGHUP`.
    pub const HUP: Signal = Signal(1);
    /// `SIGINT` (Ctrl-C).
    pub const INT: Signal = Signal(2);
    /// `SIGKILL`.
    pub const KILL: Signal = Signal(9);
    /// `SIGTERM`.
    pub const TERM: Signal = Signal(15);

    /// Signal `n`; an error unless 1 ≤ n ≤ 64.
    pub fn new(n: i32) -> Result<Self, Error> {
        if (1..=64).contains(&n) {
            Ok(Self(n))
        } else {
            Err(Error::invalid(
                "signal",
                format!("must be 1 to 64, got {n}"),
            ))
        }
    }

    /// Its number.
    pub fn number(self) -> i32 {
        self.0
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessExit {
    /// The exit code as a shell reports it (`128 + n` after signal `n`).
    pub code: i32,
    /// The signal that ended it, when it was one sent with [`Process::kill`].
    pub signal: Option<i32>,
}

impl ProcessExit {
    /// `true` for exit code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

/// Where a reader is in a process's output: the next byte of stdout and of stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct OutputOffsets {
    /// The next stdout byte.
    pub stdout: u64,
    /// The next stderr byte.
    pub stderr: u64,
}

/// What a process's output stream yields, in order per stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessEvent {
    /// Bytes of stdout starting at `offset`.
    Stdout {
        /// The offset of `data`'s first byte in the process's stdout.
        offset: u64,
        /// The bytes, exactly as written.
        data: Bytes,
    },
    /// Bytes of stderr starting at `offset`.
    Stderr {
        /// The offset of `data`'s first byte in the process's stderr.
        offset: u64,
        /// The bytes, exactly as written.
        data: Bytes,
    },
    /// The process ended and all its output was given (always last).
    Exited(ProcessExit),
}

/// What a process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessState {
    /// Running.
    Running,
    /// Ended.
    Exited(ProcessExit),
    /// Its supervisor is gone without recording an end (it was killed from outside the SDK).
    Lost,
}

/// A process's stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StdinState {
    /// Started without stdin (`/dev/null`).
    None,
    /// Open; this many bytes were written.
    Open {
        /// Bytes written so far.
        written: u64,
    },
    /// Closed after this many bytes.
    Closed {
        /// Bytes written in all.
        written: u64,
    },
}

/// A process as [`Session::processes`] and [`Process::info`] describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Its id.
    pub id: ProcessId,
    /// Running, exited or lost.
    pub state: ProcessState,
    /// The command line.
    pub command: String,
    /// When it started.
    pub started: SystemTime,
    /// When it ended, if it has.
    pub ended: Option<SystemTime>,
    /// Bytes of stdout so far.
    pub stdout_bytes: u64,
    /// Bytes of stderr so far.
    pub stderr_bytes: u64,
    /// Its stdin.
    pub stdin: StdinState,
}

/// Starts a process; see [`Session::spawn`].
#[derive(Debug, Clone)]
#[must_use = "call .start().await"]
pub struct ProcessBuilder {
    session: Session,
    command: Command,
    id: Option<ProcessId>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    stdin: bool,
    merge_stderr: bool,
}

impl ProcessBuilder {
    /// The process id (default: a random one). Starting again with the same id and the same
    /// command starts nothing and returns the process that has it; with another command it is
    /// [`Error::AlreadyExists`].
    pub fn id(mut self, id: impl TryInto<ProcessId, Error = Error>) -> Result<Self, Error> {
        self.id = Some(id.try_into()?);
        Ok(self)
    }

    /// The working directory (default: where commands start).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// An environment variable for the process.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Whether the process gets a stdin to write to ([`Process::write_stdin`]); without
    /// one it reads `/dev/null`. Default `false`.
    pub fn stdin(mut self, open: bool) -> Self {
        self.stdin = open;
        self
    }

    /// Writes stderr into stdout (one stream, in the order written). Default `false`.
    pub fn merge_stderr(mut self, merge: bool) -> Self {
        self.merge_stderr = merge;
        self
    }

    /// Starts the process detached and returns once it runs.
    ///
    /// A start cut in transit is sent again: with its id (given or generated here) the
    /// second one finds the first and starts nothing. Dropping the future may leave the
    /// process started; [`Session::process`] with the same id finds it.
    pub async fn start(self) -> Result<Process, Error> {
        let id = self.id.unwrap_or_else(ProcessId::generate);
        for (k, _) in &self.env {
            let ok = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(Error::invalid(
                    "env",
                    format!("{k:?} is not a valid variable name"),
                ));
            }
        }
        let cwd = self.cwd.unwrap_or_else(|| ".".to_owned());
        if cwd.contains('\0') {
            return Err(Error::invalid("cwd", "must not contain a NUL byte"));
        }
        let mut args: Vec<&str> = vec![
            id.as_str(),
            if self.merge_stderr { "1" } else { "0" },
            if self.stdin { "1" } else { "0" },
            &cwd,
            self.command.as_str(),
        ];
        for (k, v) in &self.env {
            args.push(k);
            args.push(v);
        }
        // The whole command must fit the service's limit, the helper's own text aside.
        let text = helper::command_text("start", &args, false);
        Command::raw(text).validate()?;
        helper::run_idempotent(&self.session, "start", &args, SHORT).await?;
        Ok(Process {
            session: self.session,
            id,
            stdin_written: Arc::new(Mutex::new(None)),
        })
    }
}

/// A process in a session, by id: a value to store, and to attach to again from anywhere
/// ([`Session::process`]). Cloning it is cheap; dropping it does nothing to the process.
#[derive(Debug, Clone)]
pub struct Process {
    session: Session,
    id: ProcessId,
    /// Bytes of stdin written, as this handle knows (asked from the session when unknown).
    stdin_written: Arc<Mutex<Option<u64>>>,
}

impl Process {
    /// Its id.
    pub fn id(&self) -> &ProcessId {
        &self.id
    }

    /// Its session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// All its output from the start, then [`ProcessEvent::Exited`].
    pub fn output(&self) -> ProcessOutput {
        self.output_from(OutputOffsets::default())
    }

    /// Its output from `offsets` on (e.g. [`ProcessOutput::offsets`] of a stream that was
    /// cut, or that another program stored): no byte before them, none twice, none missing.
    pub fn output_from(&self, offsets: OutputOffsets) -> ProcessOutput {
        ProcessOutput::new(self.session.clone(), self.id.clone(), offsets)
    }

    /// Waits until it ends.
    ///
    /// Dropping the future stops waiting; the process runs on.
    pub async fn wait(&self) -> Result<ProcessExit, Error> {
        let mut follow = Follower::new(self.session.clone(), "wait", DEFAULT_IDLE_TIMEOUT);
        let args = vec![self.id.to_string(), FOLLOW_SECONDS.to_string()];
        loop {
            match follow.next(&args).await? {
                Followed::Line(line) => {
                    if let Some(rest) = line.strip_prefix("X ") {
                        return parse_exit(rest);
                    }
                }
                Followed::Ended => {}
            }
        }
    }

    /// Sends `signal` to its process group (the command and what it started, unless they
    /// made groups of their own). A process that has ended is left alone.
    pub async fn kill(&self, signal: Signal) -> Result<(), Error> {
        let sig = signal.number().to_string();
        helper::run_idempotent(
            &self.session,
            "kill",
            &[self.id.as_str(), &sig, "group"],
            SHORT,
        )
        .await
        .map(drop)
    }

    /// Writes `data` to its stdin (started with [`ProcessBuilder::stdin`]), in order after
    /// earlier writes. A write cut in transit is sent again without being written twice (each
    /// write names the offset it starts at).
    ///
    /// Dropping the future may leave part of `data` written; [`Process::info`] tells how much.
    pub async fn write_stdin(&self, data: &[u8]) -> Result<(), Error> {
        let mut offset = match self.stdin_offset() {
            Some(o) => o,
            None => match self.info().await?.stdin {
                StdinState::Open { written } => written,
                StdinState::Closed { .. } => {
                    return Err(Error::WrongState {
                        what: "its stdin is closed".into(),
                    });
                }
                StdinState::None => {
                    return Err(Error::WrongState {
                        what: "the process was started without stdin".into(),
                    });
                }
            },
        };
        for chunk in data.chunks(STDIN_CHUNK) {
            let encoded = helper::encode_b64url(chunk);
            let off = offset.to_string();
            let len = chunk.len().to_string();
            let res = helper::run_idempotent(
                &self.session,
                "stdin",
                &[self.id.as_str(), &off, &len, &encoded],
                SHORT,
            )
            .await;
            if let Err(e) = res {
                self.set_stdin_offset(None);
                return Err(e);
            }
            offset = offset.saturating_add(chunk.len() as u64);
            self.set_stdin_offset(Some(offset));
        }
        Ok(())
    }

    fn stdin_offset(&self) -> Option<u64> {
        self.stdin_written.lock().ok().and_then(|g| *g)
    }

    fn set_stdin_offset(&self, v: Option<u64>) {
        if let Ok(mut g) = self.stdin_written.lock() {
            *g = v;
        }
    }

    /// Closes its stdin: it reads end of input after what was written.
    pub async fn close_stdin(&self) -> Result<(), Error> {
        helper::run_idempotent(&self.session, "close-stdin", &[self.id.as_str()], SHORT)
            .await
            .map(drop)
    }

    /// What it is doing now.
    pub async fn info(&self) -> Result<ProcessInfo, Error> {
        let out = helper::run_idempotent(&self.session, "info", &[self.id.as_str()], SHORT).await?;
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("P "))
            .map(parse_info)
            .unwrap_or_else(|| Err(Error::malformed("no process line in the helper's answer")))
    }

    /// Kills it if it runs (`SIGKILL` to its group) and deletes its output from the session.
    pub async fn remove(self) -> Result<(), Error> {
        helper::run_idempotent(&self.session, "remove", &[self.id.as_str()], SHORT)
            .await
            .map(drop)
    }
}

fn parse_exit(rest: &str) -> Result<ProcessExit, Error> {
    let mut it = rest.split_whitespace();
    let code = it
        .next()
        .and_then(|c| c.parse::<i32>().ok())
        .ok_or_else(|| Error::malformed(format!("bad exit record {rest:?}")))?;
    let signal = it.next().and_then(|s| s.parse::<i32>().ok());
    Ok(ProcessExit { code, signal })
}

fn epoch(s: &str) -> Option<SystemTime> {
    s.parse::<u64>()
        .ok()
        .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
}

fn parse_info(rest: &str) -> Result<ProcessInfo, Error> {
    let bad = || Error::malformed(format!("bad process record {rest:?}"));
    let f: Vec<&str> = rest.split(' ').collect();
    let [id, state, code, sig, started, ended, so, se, stdin, cmd] = f[..] else {
        return Err(bad());
    };
    let exit = ProcessExit {
        code: code.parse().unwrap_or(-1),
        signal: sig.parse().ok(),
    };
    let state = match state {
        "running" => ProcessState::Running,
        "exited" => ProcessState::Exited(exit),
        _ => ProcessState::Lost,
    };
    let written = |s: &str| s.parse::<u64>().unwrap_or(0);
    let stdin = match stdin.split_once(':') {
        Some(("open", n)) => StdinState::Open {
            written: written(n),
        },
        Some(("closed", n)) => StdinState::Closed {
            written: written(n),
        },
        _ => StdinState::None,
    };
    let command = if cmd == "-" {
        String::new()
    } else {
        String::from_utf8_lossy(&helper::decode_b64(cmd)?).into_owned()
    };
    Ok(ProcessInfo {
        id: id.parse()?,
        state,
        command,
        started: epoch(started).unwrap_or(SystemTime::UNIX_EPOCH),
        ended: epoch(ended),
        stdout_bytes: so.parse().map_err(|_| bad())?,
        stderr_bytes: se.parse().map_err(|_| bad())?,
        stdin,
    })
}

type EventStream =
    sync_wrapper::SyncWrapper<Pin<Box<dyn Stream<Item = Result<ProcessEvent, Error>> + Send>>>;

/// A process's output as a `Stream` of [`ProcessEvent`]s, from given offsets to the end.
///
/// A cut connection, a stalled stream (silent for [`DEFAULT_IDLE_TIMEOUT`]) or throttling
/// does not end it: it asks again from the offsets it reached, so every byte comes once.
/// It ends with an error after 20 failed attempts in a row, or on an error that another
/// attempt cannot fix (the process is not there, access denied…); [`offsets`](Self::offsets)
/// then says where to resume.
///
/// Dropping it stops reading; the process runs on.
pub struct ProcessOutput {
    inner: EventStream,
    offsets: Arc<Mutex<OutputOffsets>>,
    window: Arc<std::sync::atomic::AtomicU64>,
}

impl fmt::Debug for ProcessOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessOutput")
            .field("offsets", &self.offsets())
            .finish_non_exhaustive()
    }
}

struct Reader {
    follow: Follower,
    id: ProcessId,
    window: Arc<std::sync::atomic::AtomicU64>,
    offsets: Arc<Mutex<OutputOffsets>>,
    at: OutputOffsets,
    done: bool,
}

impl Reader {
    fn publish(&self) {
        if let Ok(mut o) = self.offsets.lock() {
            *o = self.at;
        }
    }

    /// One line of the helper's `read` output → an event (or nothing).
    fn event(&mut self, line: &str) -> Result<Option<ProcessEvent>, Error> {
        let mut parts = line.splitn(3, ' ');
        let kind = parts.next().unwrap_or_default();
        match kind {
            "O" | "E" => {
                let offset: u64 = parts
                    .next()
                    .and_then(|o| o.parse().ok())
                    .ok_or_else(|| Error::malformed(format!("bad output record {line:?}")))?;
                let data = Bytes::from(helper::decode_b64(parts.next().unwrap_or_default())?);
                let at = if kind == "O" {
                    &mut self.at.stdout
                } else {
                    &mut self.at.stderr
                };
                if offset != *at {
                    return Err(Error::malformed(format!(
                        "output at offset {offset}, expected {at}"
                    )));
                }
                *at = at.saturating_add(data.len() as u64);
                self.publish();
                Ok(Some(if kind == "O" {
                    ProcessEvent::Stdout { offset, data }
                } else {
                    ProcessEvent::Stderr { offset, data }
                }))
            }
            "X" => {
                self.done = true;
                let rest = line.get(2..).unwrap_or_default();
                Ok(Some(ProcessEvent::Exited(parse_exit(rest)?)))
            }
            _ => Ok(None),
        }
    }

    async fn next_event(&mut self) -> Option<Result<ProcessEvent, Error>> {
        while !self.done {
            let args = vec![
                self.id.to_string(),
                self.at.stdout.to_string(),
                self.at.stderr.to_string(),
                self.window
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .to_string(),
            ];
            match self.follow.next(&args).await {
                Ok(Followed::Line(line)) => match self.event(&line) {
                    Ok(Some(ev)) => return Some(Ok(ev)),
                    Ok(None) => {}
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                },
                Ok(Followed::Ended) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.follow.stop();
        None
    }
}

impl ProcessOutput {
    fn new(session: Session, id: ProcessId, from: OutputOffsets) -> Self {
        let offsets = Arc::new(Mutex::new(from));
        let window = Arc::new(std::sync::atomic::AtomicU64::new(FOLLOW_SECONDS));
        let reader = Reader {
            follow: Follower::new(session, "read", DEFAULT_IDLE_TIMEOUT),
            id,
            window: window.clone(),
            offsets: offsets.clone(),
            at: from,
            done: false,
        };
        let stream = futures::stream::unfold(reader, |mut r| async move {
            let item = r.next_event().await?;
            Some((item, r))
        });
        Self {
            inner: sync_wrapper::SyncWrapper::new(Box::pin(stream)),
            offsets,
            window,
        }
    }

    /// How long each of the commands that make up this stream follows the output before it
    /// ends and the next one takes over where it stopped (default 3,000 s, under the
    /// service's 3,600 s limit; 1 s to 3,590 s).
    pub fn command_window(self, window: Duration) -> Self {
        let secs = window.as_secs().clamp(1, 3590);
        self.window
            .store(secs, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// The offsets of the next bytes this stream would give: store them to resume elsewhere
    /// with [`Process::output_from`].
    pub fn offsets(&self) -> OutputOffsets {
        self.offsets.lock().map(|o| *o).unwrap_or_default()
    }

    /// Collects everything to the end: stdout, stderr and how it ended (holds all of it in
    /// memory; use the stream for large outputs).
    ///
    /// Dropping the future stops reading; the process runs on.
    pub async fn collect(mut self) -> Result<(Vec<u8>, Vec<u8>, ProcessExit), Error> {
        use futures::StreamExt;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some(ev) = self.next().await {
            match ev? {
                ProcessEvent::Stdout { data, .. } => out.extend_from_slice(&data),
                ProcessEvent::Stderr { data, .. } => err.extend_from_slice(&data),
                ProcessEvent::Exited(exit) => return Ok((out, err, exit)),
            }
        }
        Err(Error::malformed(
            "the output ended without the process's exit",
        ))
    }
}

impl Stream for ProcessOutput {
    type Item = Result<ProcessEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.get_mut().as_mut().poll_next(cx)
    }
}

/// Processes of a session.
impl Session {
    /// A process to start detached with `command` (run by `bash -c`, as root, like a
    /// command); finish with `.start().await`. See [the module](crate::process).
    pub fn spawn(&self, command: impl Into<Command>) -> ProcessBuilder {
        ProcessBuilder {
            session: self.clone(),
            command: command.into(),
            id: None,
            cwd: None,
            env: Vec::new(),
            stdin: false,
            merge_stderr: false,
        }
    }

    /// The process `id` of this session, to read, wait for, signal or remove (nothing is
    /// sent until then).
    pub fn process(&self, id: ProcessId) -> Process {
        Process {
            session: self.clone(),
            id,
            stdin_written: Arc::new(Mutex::new(None)),
        }
    }

    /// Every process started in this session's microVM (and not removed), with its state.
    pub async fn processes(&self) -> Result<Vec<ProcessInfo>, Error> {
        let out = helper::run_idempotent(self, "list", &[], SHORT).await?;
        out.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("P "))
            .map(parse_info)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!("tests-1_a".parse::<ProcessId>().is_ok());
        assert!("".parse::<ProcessId>().is_err());
        assert!("a b".parse::<ProcessId>().is_err());
        assert!("x".repeat(65).parse::<ProcessId>().is_err());
        assert_eq!(ProcessId::generate().as_str().len(), 32);
        assert!(Signal::new(0).is_err() && Signal::new(65).is_err());
    }

    #[test]
    fn records_parse() {
        let info =
            parse_info("p1 exited 143 15 1796049525 1796049526 7 4 closed:4 c2xlZXAgMTAw").unwrap();
        assert_eq!(info.command, "sleep 100");
        assert_eq!(
            info.state,
            ProcessState::Exited(ProcessExit {
                code: 143,
                signal: Some(15)
            })
        );
        assert_eq!(info.stdin, StdinState::Closed { written: 4 });
        assert!(parse_info("short").is_err());
        assert_eq!(parse_exit("3 - 17").unwrap().signal, None);
    }
}
