//! Files of a session, of any size: read, write, list, stat, remove, rename, mkdir; upload
//! and download of files and whole directories, streamed with bounded memory, checksummed
//! end to end (SHA-256), resumed after a cut; a directory watched as a `Stream`.
//!
//! Like [`process`](crate::process), everything runs through the service's own primitives
//! and a helper script the SDK places in the session — no agent in the image:
//!
//! - **Downloads** stream the file as base64 through one command (a command's output is
//!   text). A cut resumes from the last byte received. The session's SHA-256 of the file,
//!   computed meanwhile by a second command, must match the bytes received.
//! - **Uploads** go through the interactive shell with its terminal in raw mode (binary
//!   bytes, no command-size or rate limit), in acknowledged 1 MiB chunks each checked by
//!   SHA-256, into a staging file next to the destination; a cut resumes from the last
//!   acknowledged chunk in a new shell, and the staged file is moved into place only once
//!   its whole SHA-256 matches. Small files (and [`TransferChannel::Commands`]) go through
//!   commands instead, 36 KiB each, which needs no shell permission.
//! - **Directories** travel as tar archives (modes, symlinks): the session's `tar` packs
//!   and unpacks; this side packs with the `tar` crate and unpacks refusing any entry that
//!   would land outside the destination ([`Error::UnsafeArchiveEntry`]).
//!
//! Files written by these calls belong to root (as files written by commands do); the
//! shell user only writes the staging file, which root made for it.
//!
//! ```no_run
//! # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
//! let files = session.files();
//! files.write("/mnt/workspace/notes.txt", "hello").await?;
//! let report = files
//!     .upload("target/release/app", "/mnt/workspace/bin/app")
//!     .mode(0o755)
//!     .progress(|p| eprintln!("{} / {} bytes", p.done, p.total.unwrap_or(0)))
//!     .send()
//!     .await?;
//! println!("sha256 {}", report.sha256);
//! files.download_dir("/mnt/workspace/repo/target/site", "site").send().await?;
//! for entry in files.list("/mnt/workspace").await? {
//!     println!("{} {:?} {}", entry.name, entry.kind, entry.size);
//! }
//! # Ok(()) }
//! ```

mod archive;
mod transfer;
mod watch;

use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::helper::{self, SHORT};
use crate::session::Session;

pub use transfer::{Download, Progress, TransferChannel, TransferReport, Upload};
pub use watch::{FileWatch, FileWatchBuilder, WatchEvent, WatchEventKind};

/// The longest path accepted (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Checks a path in the session: absolute, no NUL, at most [`MAX_PATH_BYTES`].
pub(crate) fn checked_path<'a>(field: &'static str, p: &'a str) -> Result<&'a str, Error> {
    if !p.starts_with('/') {
        return Err(Error::invalid(
            field,
            format!("must be an absolute path in the session, got {p:?}"),
        ));
    }
    if p.contains('\0') {
        return Err(Error::invalid(field, "must not contain a NUL byte"));
    }
    if p.len() > MAX_PATH_BYTES {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_PATH_BYTES} bytes, got {}", p.len()),
        ));
    }
    Ok(p)
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (see [`FileEntry::link_target`]).
    Symlink,
    /// Anything else (FIFO, socket, device).
    Other,
}

impl FileKind {
    fn from_find(t: &str) -> Self {
        match t {
            "f" => Self::File,
            "d" => Self::Dir,
            "l" => Self::Symlink,
            _ => Self::Other,
        }
    }
}

/// A file or directory in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileEntry {
    /// Its name (the last path component; for [`Files::stat`], the path asked for). Bytes
    /// that are not UTF-8 are shown as U+FFFD here; [`name_bytes`](Self::name_bytes) has
    /// them exactly.
    pub name: String,
    /// What it is (a symlink is not followed).
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (e.g. `0o644`).
    pub mode: u32,
    /// Last modification.
    pub modified: SystemTime,
    /// Owner's uid in the session.
    pub uid: u32,
    /// Group's gid in the session.
    pub gid: u32,
    /// Where a symlink points.
    pub link_target: Option<String>,
    name_bytes: Vec<u8>,
}

impl FileEntry {
    /// The name exactly as the session has it.
    pub fn name_bytes(&self) -> &[u8] {
        &self.name_bytes
    }

    /// `true` for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }
}

fn parse_time(s: &str) -> SystemTime {
    let secs: f64 = s.parse().unwrap_or(0.0);
    if secs.is_finite() && secs > 0.0 {
        Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

/// `type mode size mtime uid gid[ name]` and a link target, as the helper prints them.
fn parse_entry(meta: &[u8], link: &[u8], name: Option<&[u8]>) -> Result<FileEntry, Error> {
    let bad = || {
        Error::malformed(format!(
            "bad file record {:?}",
            String::from_utf8_lossy(meta)
        ))
    };
    let (fields, name_bytes) = match name {
        Some(n) => (meta, n.to_vec()),
        None => {
            // With a name: the first six fields, then the name (which may hold spaces).
            let mut spaces: u32 = 0;
            let cut = meta.iter().position(|b| {
                if *b == b' ' {
                    spaces = spaces.saturating_add(1);
                }
                spaces == 6
            });
            match cut {
                Some(i) => (
                    meta.get(..i).ok_or_else(bad)?,
                    meta.get(i.saturating_add(1)..).unwrap_or_default().to_vec(),
                ),
                None => return Err(bad()),
            }
        }
    };
    let text = std::str::from_utf8(fields).map_err(|_| bad())?;
    let f: Vec<&str> = text.split(' ').collect();
    let [kind, mode, size, mtime, uid, gid] = f[..] else {
        return Err(bad());
    };
    let kind = FileKind::from_find(kind);
    Ok(FileEntry {
        name: String::from_utf8_lossy(&name_bytes).into_owned(),
        name_bytes,
        kind,
        size: size.parse().map_err(|_| bad())?,
        mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
        modified: parse_time(mtime),
        uid: uid.parse().unwrap_or(0),
        gid: gid.parse().unwrap_or(0),
        link_target: (kind == FileKind::Symlink)
            .then(|| String::from_utf8_lossy(link).into_owned()),
    })
}

/// The files of one session; see [the module](crate::files). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Files {
    session: Session,
}

impl Files {
    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The whole file at `path`, byte for byte (held in memory: use
    /// [`download`](Self::download) for large files).
    ///
    /// Dropping the future stops the transfer; nothing changes in the session.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, Error> {
        let path = checked_path("path", path)?;
        transfer::download_to_memory(&self.session, path).await
    }

    /// Writes `data` to `path` (created or replaced whole, parents created, mode 0644): it
    /// appears complete or not at all.
    ///
    /// Dropping the future may leave a staging file next to `path`; `path` itself is only
    /// ever replaced whole.
    pub async fn write(&self, path: &str, data: impl AsRef<[u8]>) -> Result<(), Error> {
        let path = checked_path("path", path)?;
        transfer::upload_bytes(&self.session, path, data.as_ref())
            .await
            .map(drop)
    }

    /// The entries of the directory `dir` (not `.` and `..`), in no particular order.
    pub async fn list(&self, dir: &str) -> Result<Vec<FileEntry>, Error> {
        let dir = checked_path("path", dir)?;
        let out = helper::run_idempotent(&self.session, "ls", &[dir], SHORT).await?;
        let bytes = helper::decode_b64(&out.stdout)?;
        let mut fields = bytes.split(|b| *b == 0);
        let mut entries = Vec::new();
        while let Some(meta) = fields.next() {
            if meta.is_empty() {
                break;
            }
            let link = fields.next().unwrap_or_default();
            entries.push(parse_entry(meta, link, None)?);
        }
        Ok(entries)
    }

    /// What is at `path` (a symlink itself, not what it points to); [`Error::NotFound`]
    /// when nothing is.
    pub async fn stat(&self, path: &str) -> Result<FileEntry, Error> {
        let path = checked_path("path", path)?;
        let out = helper::run_idempotent(&self.session, "stat", &[path], SHORT).await?;
        let bytes = helper::decode_b64(&out.stdout)?;
        let mut fields = bytes.split(|b| *b == 0);
        let meta = fields.next().unwrap_or_default();
        let link = fields.next().unwrap_or_default();
        parse_entry(meta, link, Some(path.as_bytes()))
    }

    /// Whether anything is at `path`.
    pub async fn exists(&self, path: &str) -> Result<bool, Error> {
        match self.stat(path).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes the file, symlink or empty directory at `path`.
    pub async fn remove(&self, path: &str) -> Result<(), Error> {
        let path = checked_path("path", path)?;
        helper::run_idempotent(&self.session, "rm", &[path, "one"], SHORT)
            .await
            .map(drop)
    }

    /// Removes `path` and everything below it; nothing there is not an error.
    pub async fn remove_all(&self, path: &str) -> Result<(), Error> {
        let path = checked_path("path", path)?;
        if path.trim_end_matches('/').is_empty() {
            return Err(Error::invalid("path", "will not remove /"));
        }
        helper::run_idempotent(&self.session, "rm", &[path, "force"], SHORT)
            .await
            .map(drop)
    }

    /// Renames `from` to `to` (replacing a file at `to`; parents of `to` are created).
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), Error> {
        let from = checked_path("from", from)?;
        let to = checked_path("to", to)?;
        helper::run(&self.session, "mv", &[from, to], SHORT)
            .await
            .map(drop)
    }

    /// Creates the directory `path` and its missing parents (an existing directory is fine).
    pub async fn mkdir(&self, path: &str) -> Result<(), Error> {
        let path = checked_path("path", path)?;
        helper::run_idempotent(&self.session, "mkdir", &[path, "parents"], SHORT)
            .await
            .map(drop)
    }

    /// Uploads the local file `local` to `remote` in the session; finish with `.send()`.
    pub fn upload(&self, local: impl AsRef<std::path::Path>, remote: &str) -> Upload {
        Upload::file(self.session.clone(), local.as_ref().to_owned(), remote)
    }

    /// Uploads the local directory `local` (its contents, recursively, with modes and
    /// symlinks) into `remote`, created if missing; finish with `.send()`.
    pub fn upload_dir(&self, local: impl AsRef<std::path::Path>, remote: &str) -> Upload {
        Upload::dir(self.session.clone(), local.as_ref().to_owned(), remote)
    }

    /// Downloads `remote` to the local file `local` (written to `local` plus `.part`,
    /// renamed once its checksum matched); finish with `.send()`.
    pub fn download(&self, remote: &str, local: impl AsRef<std::path::Path>) -> Download {
        Download::file(self.session.clone(), remote, local.as_ref().to_owned())
    }

    /// Downloads the directory `remote` into the new local directory `local` (which must not
    /// exist, or be empty), modes and symlinks kept; finish with `.send()`.
    pub fn download_dir(&self, remote: &str, local: impl AsRef<std::path::Path>) -> Download {
        Download::dir(self.session.clone(), remote, local.as_ref().to_owned())
    }

    /// Watches the directory `dir` (recursively) for files created, modified and removed;
    /// finish with `.start().await`.
    pub fn watch(&self, dir: &str) -> FileWatchBuilder {
        FileWatchBuilder::new(self.session.clone(), dir)
    }
}

/// Files of a session.
impl Session {
    /// This session's files; see [`files`](crate::files).
    pub fn files(&self) -> Files {
        Files {
            session: self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_before_sending() {
        assert!(checked_path("path", "/a/b").is_ok());
        assert!(checked_path("path", "a/b").is_err());
        assert!(checked_path("path", "/a\0b").is_err());
        assert!(checked_path("path", &format!("/{}", "a".repeat(5000))).is_err());
    }

    #[test]
    fn entries_parse_with_spaces_in_names() {
        let e = parse_entry(b"f 644 3 1796049528.75 0 0 a b", b"", None).unwrap();
        assert_eq!(
            (e.name.as_str(), e.kind, e.size, e.mode),
            ("a b", FileKind::File, 3, 0o644)
        );
        let l = parse_entry(b"l 777 4 1796049528.75 0 0 lnk", b"/etc", None).unwrap();
        assert_eq!(l.link_target.as_deref(), Some("/etc"));
        assert!(parse_entry(b"garbage", b"", None).is_err());
        let s = parse_entry(b"d 755 4096 1.5 0 0", b"", Some(b"/x")).unwrap();
        assert!(s.is_dir());
    }
}
