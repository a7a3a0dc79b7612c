//! The state machine's types as the API and the unit records spell them. `ward-core` and
//! `ward-api` know nothing of each other, so the daemon, which uses both, converts.

use ward_api::{UnitIntent, UnitState};
use ward_core::machine::{Intent, State};

/// A unit's state on the wire.
pub(crate) fn state(s: State) -> UnitState {
    match s {
        State::Stopped => UnitState::Stopped,
        State::Starting => UnitState::Starting,
        State::Running => UnitState::Running,
        State::Stopping => UnitState::Stopping,
        State::Exited => UnitState::Exited,
        State::Backoff => UnitState::Backoff,
        State::Failed => UnitState::Failed,
        State::Completed => UnitState::Completed,
    }
}

/// A unit's intent on the wire and in its record.
pub(crate) fn intent(i: Intent) -> UnitIntent {
    match i {
        Intent::Run => UnitIntent::Run,
        Intent::Stop => UnitIntent::Stop,
    }
}

/// A path as the API spells it: as it is when it is UTF-8 (every path ward makes from a
/// valid config), else with the bytes that are not replaced. `Display` goes through the
/// formatter and a lossy decoder for every path; for thousands of units a status asks
/// for two paths each, and that was a seventh of its time.
pub(crate) fn path(p: &std::path::Path) -> String {
    p.to_str()
        .map_or_else(|| p.display().to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_spelt_as_they_are_and_bytes_that_are_not_utf8_replaced() {
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(
            path(std::path::Path::new("/srv/logs/web.log")),
            "/srv/logs/web.log"
        );
        let odd = std::path::Path::new(std::ffi::OsStr::from_bytes(b"/srv/\xffx.log"));
        assert_eq!(path(odd), "/srv/\u{fffd}x.log");
    }

    /// The wire names are the machine's own (`State::as_str`), so the API says what the
    /// daemon's logs and journal say.
    #[test]
    fn wire_names_match_the_machine() {
        for s in [
            State::Stopped,
            State::Starting,
            State::Running,
            State::Stopping,
            State::Exited,
            State::Backoff,
            State::Failed,
            State::Completed,
        ] {
            assert_eq!(state(s).as_str(), s.as_str());
        }
        assert_eq!(intent(Intent::Run), UnitIntent::Run);
        assert_eq!(intent(Intent::Stop), UnitIntent::Stop);
    }
}
