//! Binary-safe file transfer through one-shot commands (base64 in chunks that fit the
//! 64 KiB command limit).

use base64::Engine;

use crate::error::Error;
use crate::session::Session;
use crate::types::Command;

/// Base64 characters per command: with the surrounding shell text this stays well under the
/// 65,536-byte command limit.
const CHUNK_B64: usize = 48 * 1024;

impl Session {
    /// Writes `contents` to `path` in the session (creating parent directories), in chunks
    /// under the command size limit; the file appears whole or not at all (written to a
    /// temporary name, then renamed).
    ///
    /// ```no_run
    /// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
    /// session.write_file("/mnt/workspace/data.bin", &[0u8, 159, 146, 150]).await?;
    /// assert_eq!(session.read_file("/mnt/workspace/data.bin").await?, vec![0u8, 159, 146, 150]);
    /// # Ok(()) }
    /// ```
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    /// The file itself is never half-written: it is renamed into place only at the end (a
    /// temporary file may be left behind).
    pub async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), Error> {
        if path.is_empty() || path.contains('\0') {
            return Err(Error::invalid(
                "path",
                "must be a non-empty path without NUL",
            ));
        }
        let target = Command::quote(path);
        let tmp = Command::quote(&format!(
            "{path}.agentcore-tmp-{}",
            uuid::Uuid::new_v4().simple()
        ));
        self.run(format!(
            "mkdir -p -- \"$(dirname -- {target})\" && : > {tmp}"
        ))
        .await?
        .check()?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(contents);
        for chunk in encoded.as_bytes().chunks(CHUNK_B64) {
            // Base64 is plain ASCII: safe between single quotes.
            let chunk = std::str::from_utf8(chunk).unwrap_or_default();
            let out = self
                .run(format!("printf %s '{chunk}' | base64 -d >> {tmp}"))
                .await?;
            if !out.success() {
                let _ = self.run(format!("rm -f -- {tmp}")).await;
                out.check()?;
            }
        }
        self.run(format!("mv -f -- {tmp} {target}"))
            .await?
            .check()?;
        Ok(())
    }

    /// Reads the file at `path` in the session, byte for byte.
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>, Error> {
        let out = self
            .run(format!("base64 -w 0 -- {}", Command::quote(path)))
            .await?
            .check()?;
        if out.truncated {
            return Err(Error::TooLarge {
                what: "the file",
                limit: (crate::data::OUTPUT_LIMIT_BYTES / 4 * 3) as u64,
            });
        }
        let text: String = out.stdout.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| Error::malformed_with(format!("base64 of {path} did not decode"), e))
    }
}
