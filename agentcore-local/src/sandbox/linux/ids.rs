//! Which host ids a session's ids are.
//!
//! - A **root server** maps root inside (and ids up to 65,535) to a high range no account
//!   and no `/etc/subuid` or `/etc/subgid` entry uses — never host uid 0. The range is chosen
//!   once per data directory and kept there, so session storage keeps its owners.
//! - A **rootless server with subordinate ids** maps root inside to the server user itself
//!   and 1–65,535 to the user's subordinate ranges (as rootless Podman does), so everything
//!   root inside creates belongs to the user.
//! - A **single-id** server maps root inside to the server user; the shell user is then made
//!   in a nested user namespace whose only id is that root.

use std::path::Path;

use super::probe::{Facts, Range};
use super::wire::IdMap;

/// Ids a session has (root and up).
pub const SESSION_IDS: u32 = 65_536;

/// First and last start of the ranges a root server picks from (64 Ki-aligned, above
/// systemd's container ranges and below 2^31; each pick takes 128 Ki ids).
const ROOT_FIRST: u32 = 0x7000_0000;
const ROOT_LAST: u32 = 0x7FFC_0000;

/// How a server maps ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPlan {
    /// The server is root: sessions get `count` ids from `base`.
    Root {
        /// Root inside on the host.
        base: u32,
        /// 1 (single id forced) or [`SESSION_IDS`].
        count: u32,
    },
    /// The server is an ordinary user with subordinate ids.
    Subordinate {
        /// The server's uid (root inside).
        uid: u32,
        /// The server's gid.
        gid: u32,
        /// `/etc/subuid` range (ids 1.. inside).
        uids: Range,
        /// `/etc/subgid` range.
        gids: Range,
    },
    /// One id: the server's own.
    Single {
        /// The server's uid.
        uid: u32,
        /// The server's gid.
        gid: u32,
    },
}

impl IdPlan {
    /// The session user namespace's map as the sandbox's init sees it.
    pub fn session_map(&self) -> IdMap {
        match self {
            IdPlan::Root { base, count } => IdMap {
                base: *base,
                count: *count,
            },
            IdPlan::Subordinate { uids, gids, .. } => IdMap {
                base: 0,
                count: uids
                    .count
                    .min(gids.count)
                    .saturating_add(1)
                    .min(SESSION_IDS),
            },
            IdPlan::Single { .. } => IdMap { base: 0, count: 1 },
        }
    }

    /// The host id that owns sandbox `n`'s user namespace (a root server's: one of the ids
    /// after the sessions', mapped to nothing).
    pub fn owner(&self, n: u32) -> Option<u32> {
        match self {
            IdPlan::Root { base, .. } => base
                .checked_add(SESSION_IDS)?
                .checked_add(n.checked_rem(SESSION_IDS)?),
            _ => None,
        }
    }

    /// `newuidmap` / `newgidmap` arguments after the pid (subordinate ids only).
    pub fn helper_maps(&self) -> Option<(Vec<String>, Vec<String>)> {
        let IdPlan::Subordinate {
            uid,
            gid,
            uids,
            gids,
        } = self
        else {
            return None;
        };
        let n = self.session_map().count.saturating_sub(1);
        let line = |own: u32, sub: &Range| {
            [
                "0",
                &own.to_string(),
                "1",
                "1",
                &sub.start.to_string(),
                &n.to_string(),
            ]
            .map(str::to_owned)
            .to_vec()
        };
        Some((line(*uid, uids), line(*gid, gids)))
    }

    /// Root inside and the shell user both exist as distinct ids.
    pub fn two_users(&self) -> bool {
        self.session_map().count > super::init::RUNTIME_UID
    }

    /// A line for the start-up report.
    pub fn describe(&self) -> String {
        match self {
            IdPlan::Root { base, count } => format!(
                "root inside is host uid {base} ({count} ids from there, used by no account \
                 and no subordinate range)"
            ),
            IdPlan::Subordinate { uid, uids, .. } => format!(
                "root inside is you (uid {uid}); ids 1-{} inside are your subordinate ids \
                 from {}",
                self.session_map().count.saturating_sub(1),
                uids.start
            ),
            IdPlan::Single { uid, .. } => format!("root inside is you (uid {uid}), the only id"),
        }
    }
}

/// Picks the root server's range for a data directory: the one kept there, else a free one
/// (starting at a point derived from the directory's path, so two servers rarely share).
pub fn root_range(taken: &[Range], data_dir: &Path, kept: Option<u32>) -> Result<u32, String> {
    // The sessions' ids, then as many ids that own the sessions' user namespaces.
    let fits = |base: u32| {
        let r = Range {
            start: base,
            count: SESSION_IDS.saturating_mul(2),
        };
        !taken.iter().any(|t| t.overlaps(&r))
    };
    if let Some(base) = kept {
        return if fits(base) {
            Ok(base)
        } else {
            Err(format!(
                "the data directory's sessions own host ids {base}-{}, which an account or a \
                 subordinate id range now uses: run `agentcore-local purge --data-dir {}` (its \
                 session storage is lost) or choose another data directory",
                u64::from(base).saturating_add(u64::from(SESSION_IDS).saturating_sub(1)),
                data_dir.display()
            ))
        };
    }
    let slots = (ROOT_LAST - ROOT_FIRST) / (2 * SESSION_IDS) + 1;
    let hash = data_dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
    let first = u32::try_from(hash.checked_rem(u64::from(slots)).unwrap_or(0)).unwrap_or(0);
    (0..slots)
        .filter_map(|i| {
            let slot = first.checked_add(i)?.checked_rem(slots)?;
            ROOT_FIRST.checked_add(slot.checked_mul(SESSION_IDS.checked_mul(2)?)?)
        })
        .find(|b| fits(*b))
        .ok_or_else(|| "no free id range for sessions above 0x70000000".to_owned())
}

/// Why a non-root server gets fewer ids than it could, with the command that gives more.
pub fn plan_unprivileged(
    facts: &Facts,
    uid: u32,
    gid: u32,
    name: Option<&str>,
    newuidmap: bool,
) -> (IdPlan, Option<String>) {
    let uids = facts.subordinate("/etc/subuid", name, uid);
    let gids = facts
        .subordinate("/etc/subgid", name, gid)
        .or_else(|| facts.subordinate("/etc/subgid", name, uid));
    let who = name.map_or_else(|| uid.to_string(), str::to_owned);
    match (uids, gids, newuidmap) {
        (Some(uids), Some(gids), true)
            if uids.count > super::init::RUNTIME_UID && gids.count > super::init::RUNTIME_UID =>
        {
            (
                IdPlan::Subordinate {
                    uid,
                    gid,
                    uids,
                    gids,
                },
                None,
            )
        }
        (_, _, false) => (
            IdPlan::Single { uid, gid },
            Some(
                "no newuidmap: sessions get a single id (install it: `sudo apt-get install \
                 uidmap`, or your distribution's shadow-utils)"
                    .to_owned(),
            ),
        ),
        _ => (
            IdPlan::Single { uid, gid },
            Some(format!(
                "no subordinate id range of at least 1,001 ids for {who} in /etc/subuid and \
                 /etc/subgid: sessions get a single id (add one: `sudo usermod --add-subuids \
                 100000-165535 --add-subgids 100000-165535 {who}`, choosing a range no one has)"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_server_never_maps_to_uid_0_or_a_taken_range() {
        let taken = vec![
            Range {
                start: 100_000,
                count: 65_536,
            },
            Range { start: 0, count: 1 },
        ];
        let base = root_range(&taken, Path::new("/var/lib/a"), None).unwrap();
        assert!((ROOT_FIRST..=ROOT_LAST).contains(&base));
        // Every candidate taken but one (its sessions' ids and its owners'): that one is found.
        let free = ROOT_FIRST + 10 * SESSION_IDS;
        let all: Vec<Range> = (0..=(ROOT_LAST - ROOT_FIRST) / SESSION_IDS + 1)
            .map(|i| ROOT_FIRST + i * SESSION_IDS)
            .filter(|b| *b != free && *b != free + SESSION_IDS)
            .map(|start| Range {
                start,
                count: SESSION_IDS,
            })
            .collect();
        assert_eq!(root_range(&all, Path::new("/x"), None), Ok(free));
        // A kept range that is now taken is refused with a remedy.
        let e = root_range(
            &[Range {
                start: free + 10,
                count: 1,
            }],
            Path::new("/d"),
            Some(free),
        )
        .unwrap_err();
        assert!(e.contains("purge"), "{e}");
    }

    #[test]
    fn subordinate_maps_put_the_user_at_root_and_the_range_above() {
        let plan = IdPlan::Subordinate {
            uid: 1000,
            gid: 1000,
            uids: Range {
                start: 165_536,
                count: 65_536,
            },
            gids: Range {
                start: 300_000,
                count: 65_536,
            },
        };
        let (u, g) = plan.helper_maps().unwrap();
        assert_eq!(u, ["0", "1000", "1", "1", "165536", "65535"]);
        assert_eq!(g, ["0", "1000", "1", "1", "300000", "65535"]);
        assert_eq!(
            plan.session_map(),
            IdMap {
                base: 0,
                count: 65_536
            }
        );
        assert!(plan.two_users());
        assert!(!IdPlan::Single { uid: 1, gid: 1 }.two_users());
    }
}
