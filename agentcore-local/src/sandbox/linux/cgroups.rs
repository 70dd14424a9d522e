//! Per-session limits with cgroups where the host delegates them, rlimits otherwise.
//!
//! Layout, per controller (v1) or once (v2), below the server's own cgroup:
//! `agentcore-local/<server>/<sandbox>` carries the limits and `<sandbox>/sandbox` holds the
//! processes, and is the root of the session's cgroup namespace: a session that mounts
//! cgroup2 sees only its leaf, never the files that limit it.

use std::path::{Path, PathBuf};

use super::probe::Cgroups;
use crate::sandbox::Limits;

/// The server's cgroups.
#[derive(Debug, Clone)]
pub struct CgroupPlan {
    /// (controller or `""` for v2, this server's directory).
    parents: Vec<(String, PathBuf)>,
    v2: bool,
    /// Why there are none (rlimits only).
    pub missing: Option<String>,
    /// Without v2 limits, this server's directory in the unified hierarchy where each
    /// sandbox still gets a cgroup of its own (no limits, but the root of its cgroup
    /// namespace is its own).
    contain: Option<PathBuf>,
}

impl CgroupPlan {
    /// Prepares this server's cgroup directories (`server` names them); `unified` is this
    /// process's own v2 cgroup when it may create cgroups there.
    pub fn new(found: Cgroups, unified: Option<PathBuf>, server: &str) -> Self {
        let mut plan = CgroupPlan {
            parents: Vec::new(),
            v2: false,
            missing: None,
            contain: None,
        };
        match found {
            Cgroups::V2 { dir } => match prepare_v2(&dir, server) {
                Ok(p) => {
                    plan.parents.push((String::new(), p));
                    plan.v2 = true;
                }
                Err(e) => plan.missing = Some(e),
            },
            Cgroups::V1 { dirs } => {
                for (controller, dir) in dirs {
                    let p = dir.join("agentcore-local").join(server);
                    if std::fs::create_dir_all(&p).is_ok() {
                        plan.parents.push((controller, p));
                    }
                }
                if plan.parents.is_empty() {
                    plan.missing = Some("cannot create cgroups (v1)".into());
                }
            }
            Cgroups::None(why) => plan.missing = Some(why),
        }
        if !plan.v2 {
            plan.contain = unified
                .map(|u| u.join(format!("agentcore-local-{server}")))
                .filter(|d| std::fs::create_dir_all(d).is_ok());
        }
        plan
    }

    /// This server's directories (removed when it is gone).
    pub fn server_dirs(&self) -> Vec<PathBuf> {
        self.parents
            .iter()
            .map(|(_, p)| p.clone())
            .chain(self.contain.clone())
            .collect()
    }

    fn has(&self, controller: &str) -> bool {
        self.parents
            .iter()
            .any(|(c, _)| c == controller || (self.v2 && c.is_empty()))
    }

    /// What limits sessions here, for the start-up report.
    pub fn describe(&self) -> String {
        match (&self.missing, self.v2) {
            (None, true) => "cgroup v2 (memory, pids, cpu) per session".into(),
            (None, false) => {
                let names: Vec<&str> = self.parents.iter().map(|(c, _)| c.as_str()).collect();
                format!("cgroup v1 ({}) per session", names.join(", "))
            }
            (Some(_), _) => "rlimits only".into(),
        }
    }

    /// What the rlimit fallback does not cover, if it is used.
    pub fn gaps(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(why) = &self.missing {
            v.push(format!(
                "no cgroups for sessions ({why}): a session's memory is not bounded (RLIMIT_AS \
                 limits each process's address space, not the sum of its processes, tmpfs mounts \
                 it makes or memory files); processes per session by RLIMIT_NPROC; CPU is not \
                 limited. To give agentcore-local cgroups as an ordinary user: \
                 `systemd-run --user --scope -p Delegate=yes agentcore-local ...`"
            ));
        } else {
            if !self.has("memory") {
                v.push("no memory cgroup: memory is limited per process (RLIMIT_AS)".into());
            }
            if !self.has("pids") {
                v.push("no pids cgroup: processes are limited by RLIMIT_NPROC".into());
            }
            if !self.has("cpu") {
                v.push("no cpu cgroup: CPU is not limited".into());
            }
        }
        v
    }

    /// rlimits for what no cgroup controller covers: (resource, value).
    pub fn rlimits(&self, limits: &Limits) -> Vec<(u32, u64)> {
        let mut v = Vec::new();
        if !self.has("memory") {
            v.push((libc::RLIMIT_AS, limits.memory_bytes));
        }
        if !self.has("pids") {
            v.push((libc::RLIMIT_NPROC, limits.pids));
        }
        v
    }

    /// Creates a sandbox's cgroups with `limits`.
    pub fn create(&self, name: &str, limits: &Limits) -> SessionCgroup {
        let mut c = SessionCgroup::default();
        let period: u64 = 100_000;
        let quota = (limits.cpus * period as f64) as u64;
        for (controller, parent) in &self.parents {
            let dir = parent.join(name);
            let leaf = dir.join("sandbox");
            if std::fs::create_dir_all(&leaf).is_err() {
                continue;
            }
            let w = |file: &str, v: &str| std::fs::write(dir.join(file), v).is_ok();
            let ok = match controller.as_str() {
                "" => {
                    let m = w("memory.max", &limits.memory_bytes.to_string());
                    let _ = w("memory.swap.max", "0");
                    let p = w("pids.max", &limits.pids.to_string());
                    let _ = w("cpu.max", &format!("{quota} {period}"));
                    m && p
                }
                "memory" => {
                    let m = w("memory.limit_in_bytes", &limits.memory_bytes.to_string());
                    let _ = w(
                        "memory.memsw.limit_in_bytes",
                        &limits.memory_bytes.to_string(),
                    );
                    m
                }
                "pids" => w("pids.max", &limits.pids.to_string()),
                "cpu" => {
                    w("cpu.cfs_period_us", &period.to_string())
                        && w("cpu.cfs_quota_us", &quota.to_string())
                }
                _ => false,
            };
            c.dirs.push(dir);
            if ok {
                c.procs.push(leaf.join("cgroup.procs"));
            }
        }
        if let Some(contain) = &self.contain {
            let dir = contain.join(name);
            if std::fs::create_dir_all(&dir).is_ok() {
                c.procs.push(dir.join("cgroup.procs"));
                c.dirs.push(dir);
            }
        }
        c
    }
}

/// Enables the controllers for our subtree. A cgroup with processes cannot give controllers
/// to children: if this process is alone in its cgroup it moves to a leaf first.
fn prepare_v2(own: &Path, server: &str) -> Result<PathBuf, String> {
    let enable =
        |dir: &Path| std::fs::write(dir.join("cgroup.subtree_control"), "+memory +pids +cpu");
    let enabled = |dir: &Path| {
        std::fs::read_to_string(dir.join("cgroup.subtree_control"))
            .is_ok_and(|s| s.contains("memory") && s.contains("pids"))
    };
    if !enabled(own) && enable(own).is_err() {
        let procs = std::fs::read_to_string(own.join("cgroup.procs")).unwrap_or_default();
        let me = std::process::id().to_string();
        if procs.lines().any(|p| p.trim() != me) {
            return Err(format!(
                "cgroup v2 {} holds other processes, so it cannot delegate controllers",
                own.display()
            ));
        }
        let leaf = own.join("agentcore-local-server");
        std::fs::create_dir_all(&leaf).map_err(|e| e.to_string())?;
        std::fs::write(leaf.join("cgroup.procs"), &me).map_err(|e| e.to_string())?;
        tracing::info!(cgroup = %leaf.display(), "moved this process to a leaf cgroup to delegate controllers to sessions");
        enable(own).map_err(|e| format!("cannot enable controllers in {}: {e}", own.display()))?;
    }
    let base = own.join("agentcore-local");
    let server_dir = base.join(server);
    std::fs::create_dir_all(&server_dir).map_err(|e| e.to_string())?;
    for dir in [&base, &server_dir] {
        if !enabled(dir) {
            enable(dir)
                .map_err(|e| format!("cannot enable controllers in {}: {e}", dir.display()))?;
        }
    }
    Ok(server_dir)
}

/// One sandbox's cgroups.
#[derive(Debug, Default)]
pub struct SessionCgroup {
    procs: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl SessionCgroup {
    /// Moves `pid` (and so everything it starts) into the sandbox's cgroups.
    pub fn join(&self, pid: i32) -> std::io::Result<()> {
        for p in &self.procs {
            std::fs::write(p, pid.to_string())?;
        }
        Ok(())
    }

    /// Removes the directories, waiting for their processes to be gone.
    pub async fn remove(self) {
        for _ in 0..100 {
            if self
                .dirs
                .iter()
                .all(|d| super::zygote::remove_cgroup_tree(d))
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
