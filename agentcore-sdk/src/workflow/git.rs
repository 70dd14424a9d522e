//! The git steps of a coding loop, as commands in the session.

use crate::error::Error;
use crate::session::Session;
use crate::types::Command;

/// A git working tree in a session. See [`Session::git`].
///
/// ```no_run
/// # async fn f(session: agentcore_sdk::Session) -> Result<(), agentcore_sdk::Error> {
/// let repo = session.git("/mnt/workspace/repo");
/// repo.clone_from("https://github.com/acme/app.git").await?;
/// repo.set_identity("coding-agent", "agent@example.com").await?;
/// // ... the agent edits, the tests pass ...
/// if let Some(sha) = repo.commit_all("fix: off-by-one in pagination").await? {
///     repo.push("origin", "HEAD:refs/heads/agent/fix").await?;
///     println!("pushed {sha}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GitRepo {
    session: Session,
    dir: String,
}

impl Session {
    /// The git working tree at `dir` in this session.
    pub fn git(&self, dir: impl Into<String>) -> GitRepo {
        GitRepo {
            session: self.clone(),
            dir: dir.into(),
        }
    }
}

impl GitRepo {
    /// The working tree's directory.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    async fn git(&self, args: &str) -> Result<crate::data::CommandOutput, Error> {
        self.session
            .run(format!("git -C {} {args}", Command::quote(&self.dir)))
            .await?
            .check()
    }

    /// `git init` (idempotent), on branch `main`.
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn init(&self) -> Result<(), Error> {
        self.session
            .run(format!(
                "mkdir -p -- {d} && git -C {d} init -q -b main",
                d = Command::quote(&self.dir)
            ))
            .await?
            .check()
            .map(drop)
    }

    /// `git clone <url> <dir>`, unless `dir` already holds a repository (so a resumed
    /// session keeps its work).
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn clone_from(&self, url: &str) -> Result<(), Error> {
        let d = Command::quote(&self.dir);
        self.session
            .run(format!(
                "if [ -d {d}/.git ]; then echo exists; else git clone -q -- {} {d}; fi",
                Command::quote(url)
            ))
            .await?
            .check()
            .map(drop)
    }

    /// Sets `user.name` and `user.email` for this repository.
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn set_identity(&self, name: &str, email: &str) -> Result<(), Error> {
        self.git(&format!(
            "config user.name {} && git -C {} config user.email {}",
            Command::quote(name),
            Command::quote(&self.dir),
            Command::quote(email)
        ))
        .await
        .map(drop)
    }

    /// Stages everything and commits; `None` when there was nothing to commit, else the new
    /// commit's hash.
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn commit_all(&self, message: &str) -> Result<Option<String>, Error> {
        let out = self
            .session
            .run(format!(
                "cd {} && git add -A && if git diff --cached --quiet; then echo NOTHING-TO-COMMIT; else git commit -q -m {} && git rev-parse HEAD; fi",
                Command::quote(&self.dir),
                Command::quote(message)
            ))
            .await?
            .check()?;
        let last = out
            .stdout
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        Ok((last != "NOTHING-TO-COMMIT" && !last.is_empty()).then_some(last))
    }

    /// `git push <remote> <refspec>`.
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn push(&self, remote: &str, refspec: &str) -> Result<(), Error> {
        self.git(&format!(
            "push -q {} {}",
            Command::quote(remote),
            Command::quote(refspec)
        ))
        .await
        .map(drop)
    }

    /// The hash of `HEAD`.
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn head(&self) -> Result<String, Error> {
        Ok(self.git("rev-parse HEAD").await?.stdout.trim().to_owned())
    }

    /// The last `n` commits, one line each (`<short hash> <subject>`).
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn log(&self, n: usize) -> Result<Vec<String>, Error> {
        Ok(self
            .git(&format!("log --oneline -n {n}"))
            .await?
            .stdout
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// `git status --porcelain` lines (empty when clean).
    ///
    /// Dropping the future stops waiting for the command(s); a command already started fares as
    /// when its [`CommandStream`](crate::CommandStream) is dropped.
    pub async fn status(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .git("status --porcelain")
            .await?
            .stdout
            .lines()
            .map(str::to_owned)
            .collect())
    }
}
