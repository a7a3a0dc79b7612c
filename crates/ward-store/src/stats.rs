//! A unit's statistics over a window (`ward why`, `ward status --json`, the dashboard),
//! computed from the journal's history each time they are asked for, so that nothing
//! resets them behind the operator's back.

use std::collections::HashMap;

use serde::Serialize;

use crate::query::Reader;

/// A unit's statistics over a window, from the journal: never reset behind the operator's
/// back, because they are computed from the history itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// The window, in ms: from `since` or from when the journal first saw the unit,
    /// whichever is later, to now.
    pub window_ms: i64,
    /// Runs that overlap the window.
    pub runs: u32,
    /// Time the unit had a main process, within the window.
    pub up_ms: i64,
    /// Crashes in the window.
    pub crashes: u32,
    /// Crashes by class.
    pub crashes_by_class: Vec<(String, u32)>,
    /// Restarts ward made after a crash.
    pub restarts_after_crash: u32,
    /// Restarts an operator asked for.
    pub restarts_by_operator: u32,
    /// Reloads that changed the unit's config (and restarted it if it ran).
    pub restarts_by_reload: u32,
    /// Time spent waiting in backoff.
    pub backoff_ms: i64,
}

impl Stats {
    /// Time up divided by the window.
    pub fn uptime_ratio(&self) -> f64 {
        self.up_ms as f64 / self.window_ms as f64
    }

    /// Mean time between failures: time up per crash; `None` without a crash.
    pub fn mtbf_ms(&self) -> Option<i64> {
        (self.crashes > 0).then(|| self.up_ms / i64::from(self.crashes))
    }
}

/// The state changes that name backoff, of one unit (its id `?1`) or all (`?1` null),
/// since `?2`.
/// Its `kind` and `detail` terms are those of the partial index `events_backoff`, which
/// serves it only while they stay word for word the same.
const BACKOFF_CHANGES: &str = "SELECT service_id, at_ms, detail FROM events
      WHERE (?1 IS NULL OR service_id = ?1) AND service_id IS NOT NULL
        AND kind = 'state' AND at_ms >= ?2 AND detail LIKE '%backoff%'
      ORDER BY service_id, at_ms, id";

impl Reader {
    /// The unit's statistics since `since_ms`, computed from what the journal holds.
    pub fn stats(&self, unit: &str, since_ms: i64, now_ms: i64) -> rusqlite::Result<Stats> {
        Ok(self
            .stats_of(Some(unit), since_ms, now_ms)?
            .remove(unit)
            .unwrap_or_else(|| Stats {
                window_ms: (now_ms - since_ms).max(1),
                ..Stats::default()
            }))
    }

    /// The statistics of every unit the journal knows, by name: the same numbers as
    /// [`Reader::stats`], from one pass per table instead of one set of queries per unit
    /// (`ward status --json` with thousands of units).
    pub fn stats_all(
        &self,
        since_ms: i64,
        now_ms: i64,
    ) -> rusqlite::Result<HashMap<String, Stats>> {
        self.stats_of(None, since_ms, now_ms)
    }

    fn stats_of(
        &self,
        only: Option<&str>,
        since_ms: i64,
        now_ms: i64,
    ) -> rusqlite::Result<HashMap<String, Stats>> {
        use rusqlite::params;
        // The units by their row id, which every other table points at: no row below is
        // joined to its unit's name (at 5,000 units and 15,000 runs, that join and a name
        // for each row took more than half the time of those two tables).
        let mut place: HashMap<i64, usize> = HashMap::new();
        let mut units: Vec<(String, Stats)> = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, first_seen_ms FROM services WHERE ?1 IS NULL OR name = ?1",
        )?;
        let mut rows = stmt.query(params![only])?;
        while let Some(r) = rows.next()? {
            let (id, name, first_seen) = (r.get::<_, i64>(0)?, r.get(1)?, r.get::<_, i64>(2)?);
            // The window starts when the journal first saw the unit, if that is later.
            let stats = Stats {
                window_ms: (now_ms - first_seen.max(since_ms)).max(1),
                ..Stats::default()
            };
            place.insert(id, units.len());
            units.push((name, stats));
        }
        // One unit asked for: every query below is of its id alone.
        let one: Option<i64> = match only {
            Some(_) => match place.keys().next() {
                Some(&id) => Some(id),
                None => return Ok(HashMap::new()),
            },
            None => None,
        };
        fn at<'a>(
            place: &HashMap<i64, usize>,
            units: &'a mut [(String, Stats)],
            id: i64,
        ) -> Option<&'a mut Stats> {
            place.get(&id).map(|&i| &mut units[i].1)
        }
        // Runs: time up, and how many.
        let mut stmt = self.conn.prepare_cached(
            "SELECT service_id, started_ms, ended_ms FROM runs
              WHERE (?1 IS NULL OR service_id = ?1) AND COALESCE(ended_ms, ?3) >= ?2",
        )?;
        let mut rows = stmt.query(params![one, since_ms, now_ms])?;
        while let Some(r) = rows.next()? {
            let (id, start, end) = (r.get(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?);
            let (start, end) = (start.max(since_ms), end.unwrap_or(now_ms).min(now_ms));
            if let Some(s) = at(&place, &mut units, id) {
                s.runs += 1;
                s.up_ms += (end - start).max(0);
            }
        }
        // Crashes by class.
        let mut stmt = self.conn.prepare_cached(
            "SELECT service_id, class, count(*) FROM crashes
              WHERE (?1 IS NULL OR service_id = ?1) AND at_ms >= ?2
              GROUP BY service_id, class ORDER BY service_id, class",
        )?;
        let mut rows = stmt.query(params![one, since_ms])?;
        while let Some(r) = rows.next()? {
            let (id, class, n) = (
                r.get(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u32,
            );
            if let Some(s) = at(&place, &mut units, id) {
                s.crashes += n;
                s.crashes_by_class.push((class, n));
            }
        }
        // Restarts by cause: ward's own after a crash, the operator's, reloads'.
        let mut stmt = self.conn.prepare_cached(
            "SELECT service_id, count(*) FROM recoveries
              WHERE (?1 IS NULL OR service_id = ?1) AND at_ms >= ?2 AND action = 'restart'
              GROUP BY service_id",
        )?;
        let mut rows = stmt.query(params![one, since_ms])?;
        while let Some(r) = rows.next()? {
            if let Some(s) = at(&place, &mut units, r.get(0)?) {
                s.restarts_after_crash = r.get::<_, i64>(1)? as u32;
            }
        }
        // Time in backoff: from each entry into `backoff` to the next state change (or
        // now). A unit in backoff can only leave it, so that next change is a move out of
        // backoff: the changes that name backoff are all it takes, a few rows, where every
        // state change of every unit was read and sorted before (30 ms of a 5,000-unit
        // `ward status --json`).
        let mut stmt = self.conn.prepare_cached(BACKOFF_CHANGES)?;
        let mut rows = stmt.query(params![one, since_ms])?;
        let mut entered: Option<(i64, i64)> = None;
        let mut close = |id: i64, until: i64, from: i64| {
            if let Some(s) = at(&place, &mut units, id) {
                s.backoff_ms += until - from;
            }
        };
        while let Some(r) = rows.next()? {
            let (id, t, detail) = (r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get_ref(2)?);
            match entered.take() {
                Some((unit, from)) if unit == id => close(unit, t, from),
                // The last entry of the previous unit lasts until now.
                Some((unit, from)) => close(unit, now_ms, from),
                None => {}
            }
            if detail.as_str()?.ends_with("-> backoff") {
                entered = Some((id, t));
            }
        }
        if let Some((unit, from)) = entered {
            close(unit, now_ms, from);
        }
        let mut all: HashMap<String, Stats> = units.into_iter().collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT what, targets FROM actions
              WHERE at_ms >= ?1 AND what IN ('restart', 'reload')",
        )?;
        let mut rows = stmt.query(params![since_ms])?;
        while let Some(r) = rows.next()? {
            let (what, targets) = (r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?);
            for target in targets.split(',') {
                if only.is_some_and(|u| u != target) {
                    continue;
                }
                if let Some(s) = all.get_mut(target) {
                    match what {
                        "restart" => s.restarts_by_operator += 1,
                        _ => s.restarts_by_reload += 1,
                    }
                }
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitRecord, Journal, Record};

    #[test]
    fn the_backoff_changes_are_read_through_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        drop(crate::schema::open_checked(&path).unwrap());
        let reader = Reader::open(&path).unwrap();
        let plan: Vec<String> = reader
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {BACKOFF_CHANGES}"))
            .unwrap()
            .query_map(rusqlite::params![None::<String>, 0], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("events_backoff")),
            "{plan:?}"
        );
    }

    #[test]
    fn statistics_of_every_unit_match_each_units_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let j = Journal::open(&path).unwrap();
        let s = |x: &str| x.to_string();
        for (unit, pid) in [("web", 7u32), ("db", 8)] {
            j.record(Record::Unit {
                unit: s(unit),
                service: s(unit),
            });
            j.record(Record::RunStarted {
                unit: s(unit),
                pid,
                start_time: 1,
                boot_id: s("b"),
                at_ms: 1_000,
                adopted: false,
            });
        }
        j.record(Record::RunEnded {
            unit: s("web"),
            pid: 7,
            start_time: 1,
            boot_id: s("b"),
            at_ms: 3_000,
            exit: ExitRecord {
                description: s("killed by SIGSEGV"),
                code: None,
                signal: Some(s("SIGSEGV")),
                core_dumped: false,
            },
        });
        j.record(Record::Crash {
            unit: s("web"),
            pid: Some(7),
            at_ms: 3_000,
            class: s("segfault"),
            severity: s("high"),
            evidence: s("x"),
            evidence_lines: vec![s("x")],
            summary: s("y"),
            recommendation: None,
        });
        for (at, to) in [
            (3_000, "running -> backoff"),
            (3_500, "backoff -> starting"),
        ] {
            j.record(Record::Transition {
                unit: s("web"),
                at_ms: at,
                from: s(to.split(" -> ").next().unwrap()),
                to: s(to.split(" -> ").nth(1).unwrap()),
            });
        }
        j.record(Record::Recovery {
            unit: s("web"),
            at_ms: 3_000,
            action: s("restart"),
            delay_ms: Some(500),
        });
        // db goes into backoff and is still there at the end of the window.
        j.record(Record::Transition {
            unit: s("db"),
            at_ms: 9_000,
            from: s("running"),
            to: s("backoff"),
        });
        for what in ["restart", "reload"] {
            j.record(Record::Action {
                at_ms: 4_000,
                who: s("uid 0"),
                what: s(what),
                targets: s("db,web"),
                result: s("ok"),
            });
        }
        j.sync();
        let r = Reader::open(&path).unwrap();
        let all = r.stats_all(0, 10_000).unwrap();
        let web = &all["web"];
        assert_eq!((web.runs, web.up_ms, web.crashes), (1, 2_000, 1));
        assert_eq!(web.crashes_by_class, [(s("segfault"), 1)]);
        assert_eq!(web.restarts_after_crash, 1);
        assert_eq!((web.restarts_by_operator, web.restarts_by_reload), (1, 1));
        assert_eq!(web.backoff_ms, 500);
        let db = &all["db"];
        assert_eq!((db.runs, db.up_ms, db.crashes), (1, 9_000, 0));
        assert_eq!((db.restarts_by_operator, db.restarts_by_reload), (1, 1));
        assert_eq!(
            db.backoff_ms, 1_000,
            "a backoff not yet left lasts until now"
        );
        for unit in ["web", "db"] {
            assert_eq!(r.stats(unit, 0, 10_000).unwrap(), all[unit], "{unit}");
        }
        assert_eq!(r.stats("nobody", 0, 10_000).unwrap().runs, 0);
    }
}
