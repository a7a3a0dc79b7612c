//! The sd_notify protocol: what a service says on `$NOTIFY_SOCKET`.
//!
//! A datagram holds newline-separated `KEY=VALUE` assignments. ward acts on `READY=1`
//! (readiness for dependents), `WATCHDOG=1` (a keep-alive), `WATCHDOG=trigger` (the
//! service declares itself hung), `STOPPING=1` and `STATUS=…` (shown in status); other
//! keys are ignored, as systemd ignores keys it does not know.

/// What one datagram said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// `READY=1`.
    pub ready: bool,
    /// `WATCHDOG=1`.
    pub watchdog: bool,
    /// `WATCHDOG=trigger`.
    pub watchdog_trigger: bool,
    /// `STOPPING=1`.
    pub stopping: bool,
    /// The last `STATUS=` text, at most 256 bytes.
    pub status: Option<String>,
    /// `EXTEND_TIMEOUT_USEC=N`: the service needs this much longer than the timeout in
    /// force (of its stop, for ward), and says so again within it if it needs more.
    pub extend_timeout: Option<std::time::Duration>,
}

/// Longest `STATUS=` text kept; a service must not grow the daemon's memory.
const MAX_STATUS: usize = 256;

/// Reads one datagram. Total: a line without `=` is skipped, and bytes that are not UTF-8
/// spoil only their own line (a `STATUS=` text shows them as U+FFFD).
pub fn parse(datagram: &[u8]) -> Message {
    let mut m = Message::default();
    let text = String::from_utf8_lossy(datagram);
    for line in text.split('\n') {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match (key, value) {
            ("READY", "1") => m.ready = true,
            ("WATCHDOG", "1") => m.watchdog = true,
            ("WATCHDOG", "trigger") => m.watchdog_trigger = true,
            ("STOPPING", "1") => m.stopping = true,
            ("EXTEND_TIMEOUT_USEC", n) => {
                if let Ok(us) = n.trim().parse::<u64>() {
                    m.extend_timeout = Some(std::time::Duration::from_micros(us));
                }
            }
            ("STATUS", s) => {
                let mut end = s.len().min(MAX_STATUS);
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                m.status = Some(s[..end].to_string());
            }
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_keys_ward_acts_on() {
        let m = parse(b"READY=1\nSTATUS=serving 12 clients\nMAINPID=42\nWATCHDOG=1");
        assert!(m.ready && m.watchdog && !m.watchdog_trigger && !m.stopping);
        assert_eq!(m.status.as_deref(), Some("serving 12 clients"));
        assert!(parse(b"WATCHDOG=trigger").watchdog_trigger);
        assert_eq!(
            parse(b"STOPPING=1\nEXTEND_TIMEOUT_USEC=2500000").extend_timeout,
            Some(std::time::Duration::from_millis(2500))
        );
        assert_eq!(parse(b"EXTEND_TIMEOUT_USEC=soon").extend_timeout, None);
        assert!(parse(b"STOPPING=1").stopping);
    }

    #[test]
    fn ignores_what_it_does_not_know_and_never_panics() {
        assert_eq!(parse(b""), Message::default());
        assert_eq!(parse(b"READY=0\nnonsense\n=\n\xff\xfe"), Message::default());
        let long = format!("STATUS={}", "é".repeat(300));
        let status = parse(long.as_bytes()).status.unwrap();
        assert!(status.len() <= MAX_STATUS);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// One line of a datagram: what ward acts on, near misses, other keys, lines
        /// without `=`, bytes that are not UTF-8, and long or huge `STATUS=` texts.
        fn line() -> impl Strategy<Value = Vec<u8>> {
            let known = prop::sample::select(vec![
                "READY=1",
                "READY=0",
                "READY=1 ",
                "ready=1",
                "WATCHDOG=1",
                "WATCHDOG=trigger",
                "WATCHDOG=0",
                "STOPPING=1",
                "MAINPID=42",
                "ERRNO=2",
                "=",
                "",
                "READY",
            ])
            .prop_map(|l| l.as_bytes().to_vec());
            let other =
                ("[A-Z_]{0,12}", "[^\n]{0,40}").prop_map(|(k, v)| format!("{k}={v}").into_bytes());
            let status = "[^\n]{0,400}".prop_map(|v| format!("STATUS={v}").into_bytes());
            let huge =
                (any::<char>(), 1_000..20_000usize).prop_filter_map("a newline", |(c, n)| {
                    (c != '\n').then(|| format!("STATUS={}", c.to_string().repeat(n)).into_bytes())
                });
            let bytes = prop::collection::vec(any::<u8>(), 0..40).prop_map(|mut b| {
                b.retain(|&c| c != b'\n');
                b
            });
            let spoilt = (known.clone(), any::<u8>(), any::<prop::sample::Index>()).prop_map(
                |(mut l, b, at)| {
                    let at = at.index(l.len() + 1);
                    l.insert(at, b | 0x80);
                    l
                },
            );
            prop_oneof![4 => known, 2 => other, 2 => status, 1 => huge, 1 => bytes, 1 => spoilt]
        }

        /// What a datagram means, worked out line by line on the bytes.
        fn meaning(lines: &[Vec<u8>]) -> Message {
            let said = |what: &[u8]| lines.iter().any(|l| l == what);
            let status = lines
                .iter()
                .rev()
                .find_map(|l| l.strip_prefix(b"STATUS="))
                .map(|v| {
                    let v = String::from_utf8_lossy(v);
                    let mut cut = v.len().min(MAX_STATUS);
                    while !v.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    v[..cut].to_string()
                });
            Message {
                ready: said(b"READY=1"),
                watchdog: said(b"WATCHDOG=1"),
                watchdog_trigger: said(b"WATCHDOG=trigger"),
                stopping: said(b"STOPPING=1"),
                status,
                extend_timeout: lines
                    .iter()
                    .rev()
                    .filter_map(|l| l.strip_prefix(b"EXTEND_TIMEOUT_USEC="))
                    .find_map(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
                    .map(std::time::Duration::from_micros),
            }
        }

        proptest! {
            #[test]
            fn total_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let m = parse(&bytes);
                prop_assert!(m.status.map_or(0, |s| s.len()) <= MAX_STATUS);
            }

            #[test]
            fn a_datagram_means_what_its_lines_say(
                lines in prop::collection::vec(line(), 0..8),
                trailing_newline in any::<bool>(),
            ) {
                let mut datagram = lines.join(&b'\n');
                if trailing_newline {
                    datagram.push(b'\n');
                }
                let m = parse(&datagram);
                prop_assert_eq!(&m, &meaning(&lines));
                if let Some(status) = &m.status {
                    // Cut at a character, never more than one character short.
                    prop_assert!(status.len() <= MAX_STATUS);
                    let full = lines.iter().rev().find_map(|l| l.strip_prefix(b"STATUS=")).unwrap();
                    let full = String::from_utf8_lossy(full);
                    prop_assert!(full.starts_with(status.as_str()));
                    prop_assert!(status.len() == full.len() || status.len() > MAX_STATUS - 4);
                }
            }
        }
    }
}
