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
}

/// Longest `STATUS=` text kept; a service must not grow the daemon's memory.
const MAX_STATUS: usize = 256;

/// Reads one datagram. Total: bytes that are not UTF-8 or lines without `=` are skipped.
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

    proptest::proptest! {
        #[test]
        fn total_on_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let m = parse(&bytes);
            proptest::prop_assert!(m.status.map_or(0, |s| s.len()) <= MAX_STATUS);
        }
    }
}
