//! Directories as tar archives on this side: packed from a local directory (symlinks kept
//! as links, never followed) and unpacked into a local directory refusing every entry that
//! would land outside it.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::error::Error;

fn unsafe_entry(entry: &Path, reason: impl Into<String>) -> Error {
    Error::UnsafeArchiveEntry {
        entry: entry.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks that a link at `entry` (relative to the archive's root) pointing to `target`
/// stays inside the root: `target` is relative and its `..` never climb above the root.
pub(crate) fn check_link(entry: &Path, target: &Path) -> Result<(), Error> {
    let mut depth: usize = 0;
    for c in entry.parent().map(Path::components).into_iter().flatten() {
        match c {
            Component::Normal(_) => depth = depth.saturating_add(1),
            Component::ParentDir => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    for c in target.components() {
        match c {
            Component::Normal(_) => depth = depth.saturating_add(1),
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    unsafe_entry(
                        entry,
                        format!("its link points outside ({})", target.display()),
                    )
                })?;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(
                    entry,
                    format!("its link points to an absolute path ({})", target.display()),
                ));
            }
        }
    }
    Ok(())
}

/// `path` as a plain relative path (`./` removed); an error for absolute paths and `..`.
fn relative(path: &Path) -> Result<PathBuf, Error> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err(unsafe_entry(path, "its path climbs out with ..")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_entry(path, "its path is absolute"));
            }
        }
    }
    Ok(out)
}

/// Packs the contents of `dir` (not `dir` itself) into a tar stream written to `out`.
/// Refuses links that point outside `dir`, and anything but files, directories and links.
pub(crate) fn pack(dir: &Path, out: impl Write) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::local_io(dir.display(), e);
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    if !std::fs::metadata(dir).map_err(io)?.is_dir() {
        return Err(Error::local_io(
            dir.display(),
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    // Depth first, names sorted: the same tree gives the same archive.
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = dir.join(&rel);
        let mut names: Vec<_> = std::fs::read_dir(&full)
            .map_err(|e| Error::local_io(full.display(), e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::local_io(full.display(), e))?;
        names.sort();
        let mut subdirs = Vec::new();
        for name in names {
            let rel_path = rel.join(&name);
            let path = dir.join(&rel_path);
            let meta =
                std::fs::symlink_metadata(&path).map_err(|e| Error::local_io(path.display(), e))?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                let target =
                    std::fs::read_link(&path).map_err(|e| Error::local_io(path.display(), e))?;
                check_link(&rel_path, &target)?;
                builder
                    .append_path_with_name(&path, &rel_path)
                    .map_err(|e| Error::local_io(path.display(), e))?;
            } else if ft.is_dir() {
                builder
                    .append_dir(&rel_path, &path)
                    .map_err(|e| Error::local_io(path.display(), e))?;
                subdirs.push(rel_path);
            } else if ft.is_file() {
                builder
                    .append_path_with_name(&path, &rel_path)
                    .map_err(|e| Error::local_io(path.display(), e))?;
            } else {
                return Err(unsafe_entry(
                    &rel_path,
                    "not a file, directory or symlink (not packed)",
                ));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    builder.into_inner().and_then(|mut w| w.flush()).map_err(io)
}

/// Unpacks a tar stream into the directory `dst` (which exists), keeping modes and links.
/// The first entry that would land outside `dst` — an absolute path, `..`, a symlink or hard
/// link pointing outside — or that is not a file, directory or link stops it with
/// [`Error::UnsafeArchiveEntry`].
pub(crate) fn unpack(input: impl Read, dst: &Path) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::local_io(dst.display(), e);
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive.set_unpack_xattrs(false);
    // Directories are made writable while their contents arrive; their own modes at the end.
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let raw = entry.path().map_err(io)?.into_owned();
        let path = relative(&raw)?;
        if path.as_os_str().is_empty() {
            continue; // `./`: the destination itself
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Directory => {}
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(io)?
                    .ok_or_else(|| unsafe_entry(&path, "a symlink without a target"))?;
                check_link(&path, &target)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(io)?
                    .ok_or_else(|| unsafe_entry(&path, "a hard link without a target"))?;
                relative(&target)
                    .map_err(|_| unsafe_entry(&path, "its hard link points outside"))?;
            }
            other => {
                return Err(unsafe_entry(
                    &path,
                    format!("not a file, directory or link ({other:?})"),
                ));
            }
        }
        let mode = entry.header().mode().unwrap_or(0o755);
        let unpacked = entry.unpack_in(dst).map_err(io)?;
        if !unpacked {
            return Err(unsafe_entry(&path, "it would land outside the destination"));
        }
        if kind == tar::EntryType::Directory {
            let at = dst.join(&path);
            set_mode(&at, 0o700 | mode).map_err(|e| Error::local_io(at.display(), e))?;
            dir_modes.push((at, mode));
        }
    }
    for (dir, mode) in dir_modes.into_iter().rev() {
        set_mode(&dir, mode).map_err(|e| Error::local_io(dir.display(), e))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_climb_out_are_refused() {
        assert!(check_link(Path::new("a/link"), Path::new("../b")).is_ok());
        assert!(check_link(Path::new("a/link"), Path::new("../../b")).is_err());
        assert!(check_link(Path::new("link"), Path::new("/etc/passwd")).is_err());
        assert!(check_link(Path::new("link"), Path::new("./x/../y")).is_ok());
        assert!(check_link(Path::new("link"), Path::new("..")).is_err());
        assert!(relative(Path::new("./a/b")).is_ok());
        assert!(relative(Path::new("a/../../b")).is_err());
        assert!(relative(Path::new("/abs")).is_err());
    }

    #[test]
    fn a_tree_round_trips_and_escapes_are_refused() {
        let src = tempfile_dir("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/file"), b"x").unwrap();
        std::os::unix::fs::symlink("sub/file", src.join("inside")).unwrap();
        let mut buf = Vec::new();
        pack(&src, &mut buf).unwrap();
        let dst = tempfile_dir("dst");
        unpack(&buf[..], &dst).unwrap();
        assert_eq!(std::fs::read(dst.join("inside")).unwrap(), b"x");

        std::os::unix::fs::symlink("/etc", src.join("outside")).unwrap();
        assert!(matches!(
            pack(&src, &mut Vec::new()),
            Err(Error::UnsafeArchiveEntry { .. })
        ));
        // An archive made elsewhere with such a link is refused on the way in.
        let mut evil = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        evil.append_link(&mut h, "escape", "/etc").unwrap();
        let evil = evil.into_inner().unwrap();
        let dst2 = tempfile_dir("dst2");
        assert!(matches!(
            unpack(&evil[..], &dst2),
            Err(Error::UnsafeArchiveEntry { .. })
        ));
        assert!(std::fs::symlink_metadata(dst2.join("escape")).is_err());
        for d in [src, dst, dst2] {
            let _ = std::fs::remove_dir_all(d);
        }
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "agentcore-archive-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
