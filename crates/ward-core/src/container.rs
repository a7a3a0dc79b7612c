//! ward as a container's init: when the container ends (`exit_when`) and with which code
//! (`exit_code`), decided from the units' states alone. The daemon gathers the states;
//! these functions say what follows, like s6-overlay's `S6_BEHAVIOUR_IF_STAGE2_FAILS` and
//! tini's exit code do for theirs.

use crate::ExitStatus;

/// `[supervisor] exit_when`: when the daemon stops everything and exits by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitWhen {
    /// Never: only a signal or `ward down` ends it (the default).
    Never,
    /// Once every unit has ended for good.
    All,
    /// Once any unit has ended for good.
    Any,
    /// Once any unit of these services has ended for good.
    Services(Vec<String>),
}

/// `[supervisor] exit_code`: the code the daemon exits with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The code of the first unit that ended for good in failure, 0 if none did.
    FirstFailure,
    /// The code of this service's last end (its first instance), 0 if it never ended.
    Service(String),
}

/// What a unit's state says to `exit_when`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Running, starting, stopping, in backoff, waiting to start, or a task whose
    /// schedule will run it again.
    Active,
    /// Ended by itself and not to be restarted: `exited`, `failed` or `completed`.
    Ended,
    /// Stopped by an operator, or never started (`autostart = false`).
    Idle,
}

/// One unit, as `exit_when` sees it.
#[derive(Clone, Debug)]
pub struct UnitView<'a> {
    /// The service it belongs to.
    pub service: &'a str,
    /// Where it stands.
    pub standing: Standing,
}

/// Why the daemon should end now, in words, or `None`.
pub fn exit_due(rule: &ExitWhen, units: &[UnitView<'_>]) -> Option<String> {
    let ended = |u: &&UnitView<'_>| u.standing == Standing::Ended;
    match rule {
        ExitWhen::Never => None,
        ExitWhen::All => {
            let any_ended = units.iter().any(|u| u.standing == Standing::Ended);
            (any_ended && units.iter().all(|u| u.standing != Standing::Active))
                .then(|| "exit_when = \"all\": every service has ended".to_string())
        }
        ExitWhen::Any => units
            .iter()
            .find(ended)
            .map(|u| format!("exit_when = \"any\": {} has ended", u.service)),
        ExitWhen::Services(names) => units
            .iter()
            .filter(|u| names.iter().any(|n| n == u.service))
            .find(ended)
            .map(|u| format!("exit_when: {} has ended", u.service)),
    }
}

/// The exit code a process's end stands for, as a shell reports it: the code, or 128+N for
/// a death by signal N.
pub fn code_of(status: ExitStatus) -> i32 {
    crate::oneshot::exit_code(status, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(service: &'static str, standing: Standing) -> UnitView<'static> {
        UnitView { service, standing }
    }

    #[test]
    fn exit_when_rules() {
        use Standing::*;
        let running = [v("web", Active), v("job", Ended)];
        assert_eq!(exit_due(&ExitWhen::Never, &running), None);
        assert_eq!(exit_due(&ExitWhen::All, &running), None);
        assert!(
            exit_due(&ExitWhen::Any, &running)
                .unwrap()
                .contains("job has ended")
        );
        assert_eq!(
            exit_due(&ExitWhen::Services(vec!["web".into()]), &running),
            None
        );
        assert!(exit_due(&ExitWhen::Services(vec!["job".into()]), &running).is_some());
        let done = [v("web", Idle), v("job", Ended)];
        assert!(exit_due(&ExitWhen::All, &done).is_some());
        // Nothing ended yet (all idle, as before a start): not "all ended".
        assert_eq!(exit_due(&ExitWhen::All, &[v("web", Idle)]), None);
        assert_eq!(exit_due(&ExitWhen::All, &[]), None);
    }

    #[test]
    fn codes_as_a_shell_reports_them() {
        assert_eq!(code_of(ExitStatus::Exited(3)), 3);
        assert_eq!(
            code_of(ExitStatus::Signaled {
                signal: crate::Signal::TERM,
                core_dumped: false
            }),
            143
        );
    }
}
