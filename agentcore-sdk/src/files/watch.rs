//! A directory of the session watched as a `Stream` of changes.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;

use super::{FileKind, checked_path};
use crate::error::Error;
use crate::helper::follow::{Followed, Follower};
use crate::helper::{self, SHORT};
use crate::session::Session;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEventKind {
    /// It appeared.
    Created,
    /// Its size or modification time changed (files and links; a directory whose entries
    /// change is reported through them).
    Modified,
    /// It went away.
    Removed,
}

/// One change in a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchEvent {
    /// What happened.
    pub kind: WatchEventKind,
    /// The path, relative to the watched directory (bytes that are not UTF-8 as U+FFFD).
    pub path: String,
    /// What it is (was, when removed).
    pub file_kind: FileKind,
}

/// Starts watching; see [`Files::watch`](super::Files::watch).
#[derive(Debug, Clone)]
#[must_use = "call .start().await"]
pub struct FileWatchBuilder {
    session: Session,
    dir: String,
    interval: Duration,
}

impl FileWatchBuilder {
    pub(crate) fn new(session: Session, dir: &str) -> Self {
        Self {
            session,
            dir: dir.to_owned(),
            interval: Duration::from_millis(500),
        }
    }

    /// How often the directory is looked at (default 500 ms, at least 100 ms). Each look
    /// walks the whole tree in the session: for large trees, look less often.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(100));
        self
    }

    /// Takes the first look and returns the watch: every change after this returns is
    /// reported (changes between two looks are reported at the second).
    ///
    /// Dropping the future before it returns leaves a small state file in the session
    /// (`$HOME/.agentcore/watch/`).
    pub async fn start(self) -> Result<FileWatch, Error> {
        let dir = checked_path("dir", &self.dir)?.to_owned();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let interval = format!("{:.3}", self.interval.as_secs_f64());
        let mut follow = Follower::new(self.session.clone(), "watch", Duration::from_secs(30));
        let args = vec![
            id.clone(),
            dir.clone(),
            interval,
            "3000".to_owned(),
            "0".to_owned(),
        ];
        // The first line, `R 0`, comes once the first look is taken.
        loop {
            match follow.next(&args).await? {
                Followed::Line(l) if l.starts_with("R ") => break,
                Followed::Line(_) => {}
                Followed::Ended => {
                    return Err(Error::malformed("the watch ended before its first look"));
                }
            }
        }
        let state = Watcher {
            follow,
            args,
            batch: Vec::new(),
            ready: std::collections::VecDeque::new(),
            done: false,
        };
        let stream = futures::stream::unfold(state, |mut w| async move {
            let item = w.next_event().await?;
            Some((item, w))
        });
        Ok(FileWatch {
            inner: sync_wrapper::SyncWrapper::new(Box::pin(stream)),
            session: self.session,
            id,
        })
    }
}

struct Watcher {
    follow: Follower,
    /// The helper's arguments; the last one is the last batch received whole.
    args: Vec<String>,
    /// Events of the batch being received (given out only once it is whole).
    batch: Vec<WatchEvent>,
    ready: std::collections::VecDeque<WatchEvent>,
    done: bool,
}

impl Watcher {
    async fn next_event(&mut self) -> Option<Result<WatchEvent, Error>> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Some(Ok(ev));
            }
            if self.done {
                return None;
            }
            match self.follow.next(&self.args).await {
                Ok(Followed::Line(line)) if line.starts_with("B ") => {
                    // A whole batch: its events are given, and a watch asked again starts
                    // after it.
                    if let Some(last) = self.args.last_mut() {
                        *last = line.trim_start_matches("B ").trim().to_owned();
                    }
                    self.ready.extend(self.batch.drain(..));
                }
                Ok(Followed::Line(line)) if line.starts_with("R ") => {
                    // Asked again: what an earlier command sent of an unfinished batch goes.
                    self.batch.clear();
                }
                Ok(Followed::Line(line)) => match parse_event(&line) {
                    Ok(Some(ev)) => self.batch.push(ev),
                    Ok(None) if line == "G" => {
                        self.done = true;
                        return Some(Err(Error::NotFound {
                            what: format!(
                                "the watched directory {} is gone",
                                self.args.get(1).map(String::as_str).unwrap_or_default()
                            ),
                        }));
                    }
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
    }
}

fn parse_event(line: &str) -> Result<Option<WatchEvent>, Error> {
    let mut f = line.splitn(3, ' ');
    let kind = match f.next() {
        Some("created") => WatchEventKind::Created,
        Some("modified") => WatchEventKind::Modified,
        Some("removed") => WatchEventKind::Removed,
        _ => return Ok(None),
    };
    let file_kind = FileKind::from_find(f.next().unwrap_or_default());
    let path = helper::decode_b64(f.next().unwrap_or_default())?;
    Ok(Some(WatchEvent {
        kind,
        path: String::from_utf8_lossy(&path).into_owned(),
        file_kind,
    }))
}

type EventStream =
    sync_wrapper::SyncWrapper<Pin<Box<dyn Stream<Item = Result<WatchEvent, Error>> + Send>>>;

/// Changes in a watched directory, as a `Stream`; see [`Files::watch`](super::Files::watch).
///
/// The looks happen in the session, in a command that is started again after a cut, from
/// the last look it recorded there: changes made while the connection was down are reported
/// once it is back (as the difference between two looks). It ends with
/// [`Error::NotFound`] when the directory goes away.
///
/// Dropping it stops watching; [`close`](Self::close) also removes its state in the session.
pub struct FileWatch {
    inner: EventStream,
    session: Session,
    id: String,
}

impl fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWatch")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl FileWatch {
    /// Stops watching and removes the watch's state file from the session.
    pub async fn close(self) -> Result<(), Error> {
        let FileWatch { inner, session, id } = self;
        drop(inner);
        helper::run_idempotent(&session, "unwatch", &[&id], SHORT)
            .await
            .map(drop)
    }
}

impl Stream for FileWatch {
    type Item = Result<WatchEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.get_mut().as_mut().poll_next(cx)
    }
}
