//! What this host offers a sandbox, read from files under a root that tests can replace
//! (`/proc/sys`, `/proc/self/cgroup`, `/sys/fs/cgroup`, `/etc/subuid`, `/etc/subgid`,
//! `/etc/passwd`, `/etc/group`). Decisions are plain functions of these facts.

use std::path::{Path, PathBuf};

/// The standard directories searched for host tools besides the server's `PATH`.
pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where host facts are read from.
#[derive(Debug, Clone)]
pub struct Facts {
    root: PathBuf,
}

impl Default for Facts {
    fn default() -> Self {
        Self { root: "/".into() }
    }
}

impl Facts {
    /// Facts read below `root` instead of `/` (tests).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn read(&self, p: &str) -> Option<String> {
        std::fs::read_to_string(self.path(p)).ok()
    }

    fn read_number(&self, p: &str) -> Option<i64> {
        self.read(p)?.trim().parse().ok()
    }

    /// What stops unprivileged user namespaces here, if anything.
    pub fn userns_restriction(&self) -> Option<Restriction> {
        if self.read_number("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
            return Some(Restriction::AppArmor);
        }
        if self.read_number("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
            return Some(Restriction::Sysctl);
        }
        if self.read_number("/proc/sys/user/max_user_namespaces") == Some(0) {
            return Some(Restriction::NoNamespaces);
        }
        None
    }

    /// The subordinate range of a user (by name or uid) in `/etc/subuid` or `/etc/subgid`.
    pub fn subordinate(&self, file: &str, name: Option<&str>, id: u32) -> Option<Range> {
        parse_subordinate(&self.read(file)?, name, id)
    }

    /// Every range `/etc/subuid` and `/etc/subgid` give anyone, and every id `/etc/passwd`
    /// and `/etc/group` name: what a root server's sessions must never be mapped to.
    pub fn taken_ids(&self) -> Vec<Range> {
        let mut v = Vec::new();
        for f in ["/etc/subuid", "/etc/subgid"] {
            if let Some(text) = self.read(f) {
                v.extend(text.lines().filter_map(|l| parse_line(l).map(|(_, r)| r)));
            }
        }
        for f in ["/etc/passwd", "/etc/group"] {
            if let Some(text) = self.read(f) {
                for l in text.lines() {
                    if let Some(id) = l.split(':').nth(2).and_then(|s| s.parse::<u32>().ok()) {
                        v.push(Range {
                            start: id,
                            count: 1,
                        });
                    }
                }
            }
        }
        v
    }

    /// This process's cgroup in the unified (v2) hierarchy — at `/sys/fs/cgroup`, or
    /// `/sys/fs/cgroup/unified` on a hybrid host — when `euid` may create cgroups below it.
    /// A session must never have it as the root of its cgroup namespace: its `cgroup.freeze`
    /// and `cgroup.kill` would reach the server and everything else in it.
    pub fn unified_cgroup(&self, euid: u32) -> Option<PathBuf> {
        let own = own_cgroup(&self.read("/proc/self/cgroup")?, "")?;
        let mount = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
            .iter()
            .map(|m| self.path(m))
            .find(|m| m.join("cgroup.procs").exists() && m.join("cgroup.controllers").exists())?;
        let dir = mount.join(own.trim_start_matches('/'));
        writable(&dir, euid).then_some(dir)
    }

    /// How cgroups can limit sessions here for a server running as `euid`.
    pub fn cgroups(&self, euid: u32) -> Cgroups {
        let own = self.read("/proc/self/cgroup").unwrap_or_default();
        let mount = self.path("/sys/fs/cgroup");
        if mount.join("cgroup.controllers").exists() {
            let Some(rel) = own_cgroup(&own, "") else {
                return Cgroups::None("cannot read this process's cgroup".into());
            };
            let dir = mount.join(rel.trim_start_matches('/'));
            let available =
                std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
            let missing: Vec<&str> = ["memory", "pids", "cpu"]
                .into_iter()
                .filter(|c| !available.split_whitespace().any(|a| a == *c))
                .collect();
            if !writable(&dir, euid) {
                return Cgroups::None(format!(
                    "cgroup v2 is not delegated to this user ({} is not writable)",
                    dir.display()
                ));
            }
            if missing.contains(&"memory") || missing.contains(&"pids") {
                return Cgroups::None(format!(
                    "cgroup v2 delegates no {} controller to {}",
                    missing.join(", "),
                    dir.display()
                ));
            }
            return Cgroups::V2 { dir };
        }
        let mut dirs = Vec::new();
        for controller in ["memory", "pids", "cpu"] {
            let m = mount.join(controller);
            if !m.join("cgroup.procs").exists() {
                continue;
            }
            let Some(rel) = own_cgroup(&own, controller) else {
                continue;
            };
            let dir = m.join(rel.trim_start_matches('/'));
            if writable(&dir, euid) {
                dirs.push((controller.to_owned(), dir));
            }
        }
        if dirs.iter().any(|(c, _)| c == "memory" || c == "pids") {
            Cgroups::V1 { dirs }
        } else {
            Cgroups::None("no writable cgroup (v1) for memory or pids".into())
        }
    }
}

fn writable(dir: &Path, euid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    if euid == 0 {
        return dir.is_dir();
    }
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == euid && m.mode() & 0o200 != 0)
}

/// This process's cgroup for a v1 `controller`, or the unified hierarchy's (`""`).
pub fn own_cgroup(text: &str, controller: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        let hit = if controller.is_empty() {
            controllers.is_empty()
        } else {
            controllers.split(',').any(|c| c == controller)
        };
        hit.then(|| path.to_owned())
    })
}

/// What keeps an unprivileged user from sandboxes, and how to lift it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// Ubuntu 23.10+: AppArmor takes every capability from unprivileged user namespaces.
    AppArmor,
    /// Debian's older `kernel.unprivileged_userns_clone=0`.
    Sysctl,
    /// `user.max_user_namespaces=0`.
    NoNamespaces,
}

impl Restriction {
    /// What it is and the command that lifts it.
    pub fn advice(self) -> &'static str {
        match self {
            Restriction::AppArmor => {
                "AppArmor restricts unprivileged user namespaces on this host \
                 (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later): run \
                 `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or give this \
                 program an AppArmor profile with `userns,` (see docs/ARCHITECTURE.md), or run \
                 agentcore-local as root"
            }
            Restriction::Sysctl => {
                "unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0): run \
                 `sudo sysctl kernel.unprivileged_userns_clone=1`, or run agentcore-local as root"
            }
            Restriction::NoNamespaces => {
                "user namespaces are off (user.max_user_namespaces=0): run \
                 `sudo sysctl user.max_user_namespaces=28633`, or run agentcore-local as root"
            }
        }
    }
}

/// A range of ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First id.
    pub start: u32,
    /// How many.
    pub count: u32,
}

impl Range {
    /// One past the last id.
    pub fn end(&self) -> u64 {
        u64::from(self.start).saturating_add(u64::from(self.count))
    }

    /// Whether two ranges share an id.
    pub fn overlaps(&self, other: &Range) -> bool {
        u64::from(self.start) < other.end() && u64::from(other.start) < self.end()
    }
}

fn parse_line(line: &str) -> Option<(&str, Range)> {
    let mut parts = line.trim().split(':');
    let who = parts.next()?;
    let start = parts.next()?.trim().parse().ok()?;
    let count = parts.next()?.trim().parse().ok()?;
    (!who.is_empty() && !who.starts_with('#')).then_some((who, Range { start, count }))
}

/// The first range of `name` (or `id`) in a subuid/subgid file.
pub fn parse_subordinate(text: &str, name: Option<&str>, id: u32) -> Option<Range> {
    text.lines().find_map(|l| {
        let (who, r) = parse_line(l)?;
        (who == id.to_string() || Some(who) == name).then_some(r)
    })
}

/// A program on `path` (colon-separated) or in the standard directories, as an absolute
/// path resolved now: host-side helpers are never looked up in anyone else's `PATH`.
pub fn find_program(name: &str, path: &str) -> Option<PathBuf> {
    path.split(':')
        .chain(STANDARD_PATH.split(':'))
        .filter(|d| d.starts_with('/'))
        .map(|d| Path::new(d).join(name))
        .find(|p| super::net::is_executable(p))
}

/// How sessions' resources can be limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    /// cgroup v2, below this (writable) directory.
    V2 {
        /// The server's own cgroup.
        dir: PathBuf,
    },
    /// cgroup v1 controllers, each below its (writable) directory.
    V1 {
        /// (controller, the server's own cgroup in it).
        dirs: Vec<(String, PathBuf)>,
    },
    /// None: rlimits only, for this reason.
    None(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = t.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        t
    }

    #[test]
    fn ubuntus_apparmor_restriction_is_named_with_its_remedy() {
        let t = tree(&[(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "1\n",
        )]);
        let r = Facts::at(t.path()).userns_restriction();
        assert_eq!(r, Some(Restriction::AppArmor));
        assert!(
            r.unwrap()
                .advice()
                .contains("sysctl kernel.apparmor_restrict_unprivileged_userns=0")
        );
        let t = tree(&[(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            "0\n",
        )]);
        assert_eq!(Facts::at(t.path()).userns_restriction(), None);
        let t = tree(&[("/proc/sys/user/max_user_namespaces", "0\n")]);
        assert_eq!(
            Facts::at(t.path()).userns_restriction(),
            Some(Restriction::NoNamespaces)
        );
    }

    #[test]
    fn subordinate_ranges_are_read_by_name_or_uid_and_separately_for_groups() {
        let t = tree(&[
            ("/etc/subuid", "root:100000:65536\nalice:165536:65536\n"),
            ("/etc/subgid", "1001:300000:1000\n"),
        ]);
        let f = Facts::at(t.path());
        assert_eq!(
            f.subordinate("/etc/subuid", Some("alice"), 1001),
            Some(Range {
                start: 165536,
                count: 65536
            })
        );
        assert_eq!(
            f.subordinate("/etc/subgid", Some("alice"), 1001),
            Some(Range {
                start: 300000,
                count: 1000
            })
        );
        assert_eq!(f.subordinate("/etc/subuid", Some("bob"), 1002), None);
    }

    #[test]
    fn delegated_cgroup_v2_is_detected_and_undelegated_is_named() {
        let me = nix::unistd::geteuid().as_raw();
        let t = tree(&[
            (
                "/proc/self/cgroup",
                "0::/user.slice/user-1000.slice/app.scope\n",
            ),
            ("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n"),
            (
                "/sys/fs/cgroup/user.slice/user-1000.slice/app.scope/cgroup.controllers",
                "cpu memory pids\n",
            ),
        ]);
        let f = Facts::at(t.path());
        let dir = t
            .path()
            .join("sys/fs/cgroup/user.slice/user-1000.slice/app.scope");
        assert_eq!(f.cgroups(me), Cgroups::V2 { dir: dir.clone() });
        // Another user's cgroup is not delegated to us.
        match f.cgroups(me.wrapping_add(1).max(1)) {
            Cgroups::None(why) if me != 0 => assert!(why.contains("not delegated"), "{why}"),
            other if me == 0 => assert!(matches!(other, Cgroups::None(_)), "{other:?}"),
            other => panic!("{other:?}"),
        }
        // Delegated, but without the memory controller.
        std::fs::write(dir.join("cgroup.controllers"), "cpu\n").unwrap();
        match f.cgroups(me) {
            Cgroups::None(why) => assert!(why.contains("memory"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cgroup_v1_controllers_are_found_per_hierarchy() {
        let t = tree(&[
            (
                "/proc/self/cgroup",
                "5:memory:/a\n4:pids:/b\n3:cpu,cpuacct:/c\n",
            ),
            ("/sys/fs/cgroup/memory/cgroup.procs", ""),
            ("/sys/fs/cgroup/memory/a/cgroup.procs", ""),
            ("/sys/fs/cgroup/pids/cgroup.procs", ""),
            ("/sys/fs/cgroup/pids/b/cgroup.procs", ""),
        ]);
        let me = nix::unistd::geteuid().as_raw();
        match Facts::at(t.path()).cgroups(me) {
            Cgroups::V1 { dirs } => {
                let names: Vec<&str> = dirs.iter().map(|(c, _)| c.as_str()).collect();
                assert_eq!(names, ["memory", "pids"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn taken_ids_cover_subordinate_ranges_and_accounts() {
        let t = tree(&[
            ("/etc/subuid", "alice:100000:65536\n"),
            ("/etc/subgid", "alice:200000:65536\n"),
            (
                "/etc/passwd",
                "root:x:0:0::/root:/bin/sh\nodd:x:3000000000:1::/:/bin/sh\n",
            ),
        ]);
        let taken = Facts::at(t.path()).taken_ids();
        assert!(taken.contains(&Range {
            start: 100000,
            count: 65536
        }));
        assert!(taken.contains(&Range {
            start: 200000,
            count: 65536
        }));
        assert!(taken.contains(&Range {
            start: 3_000_000_000,
            count: 1
        }));
    }

    #[test]
    fn programs_resolve_to_absolute_paths_only() {
        assert!(find_program("sh", "relative/dir").is_some_and(|p| p.is_absolute()));
        assert_eq!(find_program("no-such-program-agentcore", ""), None);
    }
}
