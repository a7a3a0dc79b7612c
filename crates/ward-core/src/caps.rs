//! Linux capabilities by name, as `capabilities = ["CAP_NET_BIND_SERVICE"]` writes them.
//!
//! The names and numbers are the kernel's ABI (`linux/capability.h`), which only ever
//! grows at the end; written out here because no crate of the field that ward already
//! depends on carries them, and the daemon needs only the table.

/// Every capability the kernel knows, at its number.
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A set of capabilities, one bit per capability number: the shape the kernel's
/// `capset` and `/proc/PID/status` (`CapEff:` and the others) use.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CapSet(pub u64);

impl CapSet {
    /// The capability named `name`: `CAP_NET_BIND_SERVICE`, case and the `CAP_` prefix
    /// optional, as `setpriv` and `capsh` accept them.
    pub fn number(name: &str) -> Option<u8> {
        let upper = name.trim().to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        NAMES.iter().position(|n| *n == full).map(|i| i as u8)
    }

    /// Every known name, for hints.
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// Adds capability number `cap`.
    pub fn insert(&mut self, cap: u8) {
        if cap < 64 {
            self.0 |= 1 << cap;
        }
    }

    /// Whether capability number `cap` is in the set.
    pub fn contains(self, cap: u8) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// The set's capabilities by name, in number order.
    pub fn to_names(self) -> Vec<&'static str> {
        (0..NAMES.len() as u8)
            .filter(|&c| self.contains(c))
            .map(|c| NAMES[c as usize])
            .collect()
    }

    /// Reads a `CapEff:`-style hexadecimal mask.
    pub fn from_hex(text: &str) -> Option<CapSet> {
        u64::from_str_radix(text.trim(), 16).ok().map(CapSet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_the_kernels() {
        assert_eq!(CapSet::number("CAP_CHOWN"), Some(0));
        assert_eq!(CapSet::number("CAP_NET_BIND_SERVICE"), Some(10));
        assert_eq!(CapSet::number("net_bind_service"), Some(10));
        assert_eq!(CapSet::number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(CapSet::number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(CapSet::number("CAP_NET_BIND"), None);
    }

    #[test]
    fn a_set_reads_back_as_proc_shows_it() {
        let mut set = CapSet::default();
        set.insert(10);
        set.insert(13);
        assert_eq!(set.0, 0x2400);
        assert_eq!(CapSet::from_hex("0000000000002400"), Some(set));
        assert_eq!(set.to_names(), ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]);
        assert!(!set.contains(0));
    }
}
