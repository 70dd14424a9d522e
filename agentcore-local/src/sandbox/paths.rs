//! Where there is no mount namespace ([`Isolation::None`](super::Isolation::None)), a
//! session's `/mnt/...` paths are host directories: text going in (commands, arguments,
//! environment values, what a shell is sent) is rewritten to the host directories, and text
//! coming out (commands' output, a shell's terminal) back to the paths inside.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// Inside paths → host directories, for rewriting text both ways.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    /// (inside, host): inside paths never nest.
    pairs: Vec<(String, String)>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Replaces each `(from, to)` where `from` stands as a whole path (not inside a longer
/// name, not the tail of a longer path), in one pass: what was put in is never rewritten
/// again. Longer patterns are tried first.
fn replace_paths(text: &[u8], pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = text.get(i..).unwrap_or_default();
        let before_ok = i == 0
            || text
                .get(i.wrapping_sub(1))
                .is_some_and(|b| !is_name_byte(*b) && *b != b'/');
        let hit = before_ok
            .then(|| {
                pairs.iter().find(|(from, _)| {
                    !from.is_empty()
                        && rest.starts_with(from)
                        && rest.get(from.len()).is_none_or(|b| !is_name_byte(*b))
                })
            })
            .flatten();
        match hit {
            Some((from, to)) => {
                out.extend_from_slice(to);
                i = i.saturating_add(from.len());
            }
            None => {
                out.extend_from_slice(rest.get(..1).unwrap_or_default());
                i = i.saturating_add(1);
            }
        }
    }
    out
}

impl PathMap {
    /// A map of (inside path, host directory) pairs.
    pub fn new(mut pairs: Vec<(String, String)>) -> Self {
        // Longest inside path first: `/mnt/data` before `/mnt`.
        pairs.sort_by_key(|(inside, _)| std::cmp::Reverse(inside.len()));
        Self { pairs }
    }

    fn forward(&self) -> Vec<(&[u8], &[u8])> {
        self.pairs
            .iter()
            .map(|(i, h)| (i.as_bytes(), h.as_bytes()))
            .collect()
    }

    fn backward(&self) -> Vec<(&[u8], &[u8])> {
        let mut v: Vec<(&[u8], &[u8])> = self
            .pairs
            .iter()
            .map(|(i, h)| (h.as_bytes(), i.as_bytes()))
            .collect();
        v.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        v
    }

    /// The host directory of the first filesystem under `/mnt/` (a shell starts there).
    pub fn first_host(&self) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(i, _)| i.starts_with("/mnt/"))
            .map(|(_, h)| h.as_str())
            .next_back()
    }

    /// Whether it maps anything.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Inside paths in `text` → host directories.
    pub fn to_host(&self, text: &str) -> String {
        let t = replace_paths(text.as_bytes(), &self.forward());
        String::from_utf8(t).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Inside paths in `bytes` → host directories.
    pub fn to_host_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        replace_paths(bytes, &self.forward())
    }

    /// Host directories in `bytes` → inside paths.
    pub fn to_inside(&self, bytes: &[u8]) -> Vec<u8> {
        replace_paths(bytes, &self.backward())
    }
}

/// Rewrites host directories in a byte stream back to inside paths, across chunk
/// boundaries: the end of a chunk that may begin a host path is held for the next one.
#[derive(Debug, Clone)]
pub struct Rewriter {
    map: PathMap,
    held: Vec<u8>,
    /// The last byte given out (it decides whether a path may start right after it).
    last: Option<u8>,
}

impl Rewriter {
    /// A rewriter for `map`.
    pub fn new(map: PathMap) -> Self {
        Self {
            map,
            held: Vec::new(),
            last: None,
        }
    }

    /// The longest end of what is held that begins a host path (a whole one too: the byte
    /// after it decides whether it is a path).
    fn hold_len(&self) -> usize {
        let mut best = 0;
        for (_, host) in &self.map.pairs {
            let h = host.as_bytes();
            let longest = h.len().min(self.held.len());
            if let Some(k) = (1..=longest)
                .rev()
                .find(|k| self.held.ends_with(h.get(..*k).unwrap_or_default()))
            {
                best = best.max(k);
            }
        }
        best
    }

    fn release(&mut self, upto: usize) -> Vec<u8> {
        let emit: Vec<u8> = self.held.drain(..upto).collect();
        if emit.is_empty() {
            return emit;
        }
        let mut with_last: Vec<u8> = self.last.into_iter().collect();
        let skip = with_last.len();
        with_last.extend_from_slice(&emit);
        let replaced = self.map.to_inside(&with_last);
        self.last = emit.last().copied();
        replaced.get(skip..).unwrap_or_default().to_vec()
    }

    /// Takes `bytes`; returns what can be given out now.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(bytes);
        let keep = self.hold_len();
        let upto = self.held.len().saturating_sub(keep);
        self.release(upto)
    }

    /// Gives out everything held (end of stream, or nothing more coming soon).
    pub fn flush(&mut self) -> Vec<u8> {
        let all = self.held.len();
        self.release(all)
    }

    /// Whether bytes are held.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }
}

/// A reader whose host paths are written back to inside paths (see [`Rewriter`]).
pub struct InsidePaths {
    inner: super::Reader,
    rewriter: Rewriter,
    ready: Vec<u8>,
    eof: bool,
}

impl InsidePaths {
    /// Wraps `inner`.
    pub fn new(inner: super::Reader, map: PathMap) -> Self {
        Self {
            inner,
            rewriter: Rewriter::new(map),
            ready: Vec::new(),
            eof: false,
        }
    }
}

impl AsyncRead for InsidePaths {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(this.ready.get(..n).unwrap_or_default());
                this.ready.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let got = rb.filled();
                    if got.is_empty() {
                        this.eof = true;
                        this.ready = this.rewriter.flush();
                    } else {
                        this.ready = this.rewriter.push(got);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn map() -> PathMap {
        PathMap::new(vec![(
            "/mnt/workspace".into(),
            "/tmp/d/storage/x/workspace".into(),
        )])
    }

    #[test]
    fn inside_paths_become_host_paths_only_as_whole_paths() {
        let m = map();
        assert_eq!(
            m.to_host("cd /mnt/workspace && ls /mnt/workspace/a"),
            "cd /tmp/d/storage/x/workspace && ls /tmp/d/storage/x/workspace/a"
        );
        assert_eq!(
            m.to_host("/mnt/workspace2 x/mnt/workspace"),
            "/mnt/workspace2 x/mnt/workspace"
        );
        assert_eq!(
            m.to_host("\"/mnt/workspace\""),
            "\"/tmp/d/storage/x/workspace\""
        );
    }

    #[test]
    fn replacements_are_made_once_longest_first() {
        let m = PathMap::new(vec![
            ("/mnt".into(), "/h/mnt".into()),
            ("/mnt/data".into(), "/mnt/x/data".into()),
        ]);
        assert_eq!(
            m.to_host("ls /mnt; ls /mnt/data"),
            "ls /h/mnt; ls /mnt/x/data"
        );
        assert_eq!(m.to_inside(b"/mnt/x/data /h/mnt"), b"/mnt/data /mnt");
    }

    #[tokio::test]
    async fn output_paths_are_written_back_across_reads() {
        let (mut w, r) = tokio::io::duplex(8);
        let mut reader = InsidePaths::new(Box::new(r), map());
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            w.write_all(b"pwd: /tmp/d/storage/x/workspace/sub\nend /tmp/d/storage/x/workspace")
                .await
                .unwrap();
        });
        let mut out = String::new();
        reader.read_to_string(&mut out).await.unwrap();
        writer.await.unwrap();
        assert_eq!(out, "pwd: /mnt/workspace/sub\nend /mnt/workspace");
    }
}
