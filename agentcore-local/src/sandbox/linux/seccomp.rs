//! The seccomp filter every process of a session runs under: system calls a microVM's
//! guest could make but a session sharing the host's kernel must not, as container runtimes
//! and bubblewrap deny them. Each fails with `EPERM`; everything else is allowed.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Calls denied outright: keyrings (shared with the host's login session), BPF, userfaultfd,
/// io_uring and perf events (kernel attack surface), kernel modules, kexec and reboot, file
/// handles (which bypass path checks), swap and process accounting.
fn denied() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_bpf,
        libc::SYS_userfaultfd,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_perf_event_open,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_reboot,
        libc::SYS_open_by_handle_at,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_iopl, libc::SYS_ioperm]);
    v
}

/// `ioctl` requests denied: typing into a terminal's input (`TIOCSTI`) and the console's
/// `TIOCLINUX` (which can do the same).
const DENIED_IOCTLS: [u64; 2] = [libc::TIOCSTI, 0x541C];

fn arch() -> std::io::Result<TargetArch> {
    if cfg!(target_arch = "x86_64") {
        Ok(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Ok(TargetArch::aarch64)
    } else if cfg!(target_arch = "riscv64") {
        Ok(TargetArch::riscv64)
    } else {
        Err(std::io::Error::other(
            "no seccomp filter for this architecture",
        ))
    }
}

/// The compiled filter.
pub fn program() -> std::io::Result<BpfProgram> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in denied() {
        rules.insert(call, Vec::new());
    }
    let mut ioctls = Vec::new();
    for request in DENIED_IOCTLS {
        // The request is an int: compare the low 32 bits only.
        let cond = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request)
            .map_err(std::io::Error::other)?;
        ioctls.push(SeccompRule::new(vec![cond]).map_err(std::io::Error::other)?);
    }
    rules.insert(libc::SYS_ioctl, ioctls);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch()?,
    )
    .map_err(std::io::Error::other)?;
    filter.try_into().map_err(std::io::Error::other)
}

/// Installs the filter on this process (inherited by everything it starts). Needs
/// `no_new_privs` first.
pub fn apply() -> std::io::Result<()> {
    seccompiler::apply_filter(&program()?).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_filter_compiles_for_this_architecture() {
        assert!(!super::program().unwrap().is_empty());
    }
}
