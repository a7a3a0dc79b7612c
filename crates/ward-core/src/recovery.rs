//! Recovery by policy: which strategy a crash gets, what carrying it out takes in the
//! state the unit is in, and what follows when the work a strategy does before its
//! restart (a repair hook, a data restore) fails. The daemon carries these out; it
//! decides none of them.

use crate::classify::{Confidence, CrashClass};
use crate::config::{ServiceConfig, Strategy};
use crate::machine::{GiveUpReason, SpawnFailure, State};

/// The strategy chosen for a crash.
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyChoice {
    /// The recovery table's strategy for the class (`backoff` where it names none).
    Table(Strategy),
    /// The table's strategy, escalated once because the estimate that it will hold is
    /// below the service's `confidence_floor`.
    Escalated {
        /// The table's strategy.
        from: Strategy,
        /// The stronger one chosen instead.
        to: Strategy,
        /// Why, for the journal: the confidence explained and the floor.
        reason: String,
    },
}

impl StrategyChoice {
    /// The strategy to carry out.
    pub fn strategy(&self) -> Strategy {
        match self {
            StrategyChoice::Table(s) => *s,
            StrategyChoice::Escalated { to, .. } => *to,
        }
    }
}

/// Chooses the strategy for a crash of `class`. `confidence` reads the journal's estimate
/// that the strategy will hold; it is asked only when the service sets a floor and the
/// table's strategy is not already `give_up`, since reading it costs a query. Without an
/// estimate (the journal unreadable), the table's strategy stands.
pub fn choose_strategy(
    service: &ServiceConfig,
    class: CrashClass,
    confidence: impl FnOnce() -> Option<Confidence>,
) -> StrategyChoice {
    let table = service
        .recovery
        .get(class.as_str())
        .copied()
        .unwrap_or(Strategy::Backoff);
    let Some(floor) = service.confidence_floor else {
        return StrategyChoice::Table(table);
    };
    if table == Strategy::GiveUp {
        return StrategyChoice::Table(table);
    }
    let Some(c) = confidence() else {
        return StrategyChoice::Table(table);
    };
    if c.value >= floor {
        return StrategyChoice::Table(table);
    }
    let to = table.escalated(service.repair.is_some());
    StrategyChoice::Escalated {
        from: table,
        to,
        reason: format!(
            "escalated from {} to {}: confidence {} is below the floor {floor:.2}",
            table.as_str(),
            to.as_str(),
            c.explain(class.as_str())
        ),
    }
}

/// What carrying out a strategy takes now, after the machine has acted on the exit.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StrategyStep {
    /// Restart after the backoff, as the machine already arranged.
    Nothing,
    /// Run the `repair` hook before the next spawn.
    RepairBeforeSpawn,
    /// Put the last data snapshot back before the next spawn.
    RestoreBeforeSpawn,
    /// Give the pending restart up now.
    GiveUp,
    /// The run is still being stopped (a hang): keep the strategy and give up once the
    /// stop is over.
    GiveUpAfterStop,
}

/// The step that carries out `strategy` for a unit in `state`.
pub fn strategy_step(strategy: Strategy, state: State) -> StrategyStep {
    match strategy {
        Strategy::Backoff => StrategyStep::Nothing,
        Strategy::Repair => StrategyStep::RepairBeforeSpawn,
        Strategy::Restore => StrategyStep::RestoreBeforeSpawn,
        Strategy::GiveUp if state == State::Stopping => StrategyStep::GiveUpAfterStop,
        Strategy::GiveUp => StrategyStep::GiveUp,
    }
}

/// Work a strategy does before its restart.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Preparation {
    /// The `repair` hook.
    Repair,
    /// Putting the last data snapshot back.
    Restore,
}

impl Preparation {
    /// A preparation that failed with `error` leaves nothing to try: the pending spawn
    /// fails with this, and the restart is given up for this reason.
    pub fn failed(self, error: &str) -> (SpawnFailure, GiveUpReason) {
        match self {
            Preparation::Repair => (
                SpawnFailure::Other(format!("the repair hook failed ({error})")),
                GiveUpReason::RepairFailed,
            ),
            Preparation::Restore => (
                SpawnFailure::Other(format!("the data restore failed ({error})")),
                GiveUpReason::RestoreFailed,
            ),
        }
    }
}

/// Work on a service's `data` that a spawn waits for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileJob {
    /// A snapshot before a clean start: the data is known good.
    Snapshot,
    /// Putting the last snapshot back before a restart (the `restore` strategy).
    Restore,
}

/// What a spawn of a service with `data` waits for: a restore when the strategy asked
/// for one; a snapshot on the first start or after a clean end; nothing after a crash
/// (the data may be what broke) or while the last end is still being judged (a crash not
/// yet named is no clean end).
pub fn file_job(restore_due: bool, judging: bool, last_was_crash: bool) -> Option<FileJob> {
    if restore_due {
        Some(FileJob::Restore)
    } else if !judging && !last_was_crash {
        Some(FileJob::Snapshot)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Outcomes, confidence};

    fn service(toml: &str) -> ServiceConfig {
        let text = format!("[services.s]\ncommand = [\"/bin/true\"]\n{toml}");
        let config = crate::config::parse(std::path::Path::new("/w/ward.toml"), &text)
            .expect("valid config");
        (*config.services["s"]).clone()
    }

    fn estimate(successes: u32, trials: u32) -> Option<Confidence> {
        Some(confidence(
            Outcomes { successes, trials },
            Outcomes::default(),
        ))
    }

    #[test]
    fn the_table_decides_without_a_floor_and_the_journal_is_not_read() {
        let s = service("recovery = { segfault = \"repair\" }\nrepair = [\"/bin/true\"]\n");
        let read = || -> Option<Confidence> { panic!("no floor: nothing to read") };
        assert_eq!(
            choose_strategy(&s, CrashClass::Segfault, read),
            StrategyChoice::Table(Strategy::Repair)
        );
        assert_eq!(
            choose_strategy(&s, CrashClass::Abort, || None),
            StrategyChoice::Table(Strategy::Backoff)
        );
    }

    #[test]
    fn a_confidence_below_the_floor_escalates_once() {
        let s = service("confidence_floor = 0.5\nrepair = [\"/bin/true\"]\n");
        let choice = choose_strategy(&s, CrashClass::Segfault, || estimate(0, 10));
        let StrategyChoice::Escalated { from, to, reason } = &choice else {
            panic!("{choice:?}");
        };
        assert_eq!((*from, *to), (Strategy::Backoff, Strategy::Repair));
        assert!(
            reason.starts_with("escalated from backoff to repair"),
            "{reason}"
        );
        assert!(reason.contains("below the floor 0.50"), "{reason}");
        // Held often enough: the table's choice stands.
        assert_eq!(
            choose_strategy(&s, CrashClass::Segfault, || estimate(10, 10)),
            StrategyChoice::Table(Strategy::Backoff)
        );
        // No estimate to be had: the table's choice stands too.
        assert_eq!(
            choose_strategy(&s, CrashClass::Segfault, || None).strategy(),
            Strategy::Backoff
        );
    }

    #[test]
    fn without_a_repair_hook_escalation_gives_up_and_give_up_reads_nothing() {
        let s = service("confidence_floor = 0.9\nrecovery = { abort = \"give_up\" }\n");
        assert_eq!(
            choose_strategy(&s, CrashClass::Segfault, || estimate(0, 3)).strategy(),
            Strategy::GiveUp
        );
        let read = || -> Option<Confidence> { panic!("give_up cannot escalate") };
        assert_eq!(
            choose_strategy(&s, CrashClass::Abort, read),
            StrategyChoice::Table(Strategy::GiveUp)
        );
    }

    #[test]
    fn data_is_snapshot_only_when_known_good_and_restored_when_asked() {
        assert_eq!(file_job(true, true, true), Some(FileJob::Restore));
        assert_eq!(file_job(false, false, false), Some(FileJob::Snapshot));
        assert_eq!(file_job(false, false, true), None);
        assert_eq!(file_job(false, true, false), None);
    }

    #[test]
    fn giving_up_waits_for_a_stop_in_progress() {
        assert_eq!(
            strategy_step(Strategy::GiveUp, State::Stopping),
            StrategyStep::GiveUpAfterStop
        );
        assert_eq!(
            strategy_step(Strategy::GiveUp, State::Backoff),
            StrategyStep::GiveUp
        );
        assert_eq!(
            strategy_step(Strategy::Repair, State::Backoff),
            StrategyStep::RepairBeforeSpawn
        );
        assert_eq!(
            strategy_step(Strategy::Restore, State::Starting),
            StrategyStep::RestoreBeforeSpawn
        );
        assert_eq!(
            strategy_step(Strategy::Backoff, State::Backoff),
            StrategyStep::Nothing
        );
    }

    #[test]
    fn a_failed_preparation_fails_the_spawn_and_gives_up_with_its_reason() {
        let (failure, reason) = Preparation::Repair.failed("exit 2");
        assert_eq!(
            failure.to_string(),
            "start failed: the repair hook failed (exit 2)"
        );
        assert_eq!(reason, GiveUpReason::RepairFailed);
        let (failure, reason) = Preparation::Restore.failed("no snapshot");
        assert!(
            failure
                .to_string()
                .contains("the data restore failed (no snapshot)")
        );
        assert_eq!(reason, GiveUpReason::RestoreFailed);
    }
}
