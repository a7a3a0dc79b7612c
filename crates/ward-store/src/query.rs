//! Reading the journal: a unit's history and the stream of events, in time order.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;

use crate::StoreError;

/// One ended run of a unit, with the verdict the journal holds for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunEnd {
    /// Its main process.
    pub pid: u32,
    /// When it started, ms since the Unix epoch.
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: i64,
    /// When the unit's next run started, if one did: what the logs hold before then can
    /// only have come from this run, even when it was read after the end was recorded.
    pub next_started_ms: Option<i64>,
    /// How it ended, in words.
    pub exit: String,
    /// Its exit code, when it exited.
    pub exit_code: Option<i64>,
    /// The crash verdict, if the end was a crash.
    pub crash: Option<CrashEntry>,
    /// What ward did about it, in order.
    pub recoveries: Vec<String>,
    /// How many ended runs of the unit the journal holds.
    pub ended_runs: u32,
}

/// A crash verdict as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CrashEntry {
    /// When ward judged it.
    pub at_ms: i64,
    /// Stable class name.
    pub class: String,
    /// `low` … `critical`.
    pub severity: String,
    /// A fact a line.
    pub evidence: Vec<String>,
    /// One sentence; absent in records older than schema 3.
    pub summary: Option<String>,
    /// What to do about it; absent when nothing, or in records older than schema 3.
    pub recommendation: Option<String>,
}

/// One line of history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
    /// The unit, when the entry is about one.
    pub unit: Option<String>,
    /// `start`, `exit`, `crash`, `recovery`, `state`, `action`, or one of the daemon's own
    /// (`daemon started`, `daemon stopped`, `journal overflow` …).
    pub kind: String,
    /// What happened, in words.
    pub detail: String,
}

/// A read-only connection; works beside a running daemon (WAL) and without one.
pub struct Reader {
    pub(crate) conn: Connection,
}

/// Every kind of entry as one time-ordered relation. `?1` is the earliest time.
const ALL: &str = "
    SELECT r.started_ms AS at_ms, s.name AS unit, s.service AS service, 'start' AS kind,
           'pid ' || r.pid || CASE WHEN r.adopted THEN ' (adopted from an earlier daemon)' ELSE '' END AS detail,
           r.start_seq AS seq, 1 AS ord, NULL AS targets
      FROM runs r JOIN services s ON s.id = r.service_id WHERE r.started_ms >= ?1
    UNION ALL
    SELECT r.ended_ms, s.name, s.service, 'exit', 'pid ' || r.pid || ': ' || r.exit_description, r.end_seq, 2, NULL
      FROM runs r JOIN services s ON s.id = r.service_id
     WHERE r.ended_ms IS NOT NULL AND r.ended_ms >= ?1
    UNION ALL
    SELECT c.at_ms, s.name, s.service, 'crash', c.class || ' (' || c.severity || '): ' || c.evidence, c.seq, 3, NULL
      FROM crashes c JOIN services s ON s.id = c.service_id WHERE c.at_ms >= ?1
    UNION ALL
    SELECT v.at_ms, s.name, s.service, 'recovery',
           v.action || CASE WHEN v.delay_ms IS NULL THEN '' ELSE ' after ' || v.delay_ms || 'ms' END, v.seq, 4, NULL
      FROM recoveries v JOIN services s ON s.id = v.service_id WHERE v.at_ms >= ?1
    UNION ALL
    SELECT h.at_ms, s.name, s.service, 'health',
           h.from_state || ' -> ' || h.to_state || CASE WHEN h.detail = '' THEN '' ELSE ': ' || h.detail END, h.seq, 5, NULL
      FROM health h JOIN services s ON s.id = h.service_id WHERE h.at_ms >= ?1
    UNION ALL
    SELECT e.at_ms, s.name, s.service, e.kind, e.detail, e.seq, 5, NULL
      FROM events e LEFT JOIN services s ON s.id = e.service_id WHERE e.at_ms >= ?1
    UNION ALL
    SELECT a.at_ms, NULL, NULL, 'action', a.what || ' ' || a.targets || ' by ' || a.who || ': ' || a.result, a.seq, 6,
           ',' || a.targets || ','
      FROM actions a WHERE a.at_ms >= ?1
";

/// The entries of `?2` in [`ALL`]: a unit's, every instance's of a service, and the
/// actions that name it (`web`, or `web.0` of service `web`).
const OF_NAME: &str = "unit = ?2 OR service = ?2
     OR instr(targets, ',' || ?2 || ',') > 0
     OR instr(targets, ',' || ?2 || '.') > 0";

impl Reader {
    /// Opens the journal read-only. A missing file is an error that says so.
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Reader { conn })
    }

    /// The audit trail's head as the journal last heard of it; `None` before the first
    /// record, or in a journal older than the audit trail.
    pub fn audit_head(&self) -> rusqlite::Result<Option<crate::audit::Head>> {
        let row = self
            .conn
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok(crate::audit::Head {
                    seq: r.get::<_, i64>(0)? as u64,
                    hash: r.get(1)?,
                })
            });
        match row {
            Ok(h) => Ok(Some(h)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn run(&self, sql: &str, args: impl rusqlite::Params) -> rusqlite::Result<Vec<Entry>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok(Entry {
                at_ms: r.get(0)?,
                unit: r.get(1)?,
                kind: r.get(2)?,
                detail: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    /// Runs, exits, crashes, recoveries, state changes and control actions of `name` (a
    /// unit, or a service for all its instances) since `since_ms`, oldest first.
    pub fn history(&self, name: &str, since_ms: i64) -> rusqlite::Result<Vec<Entry>> {
        let sql = format!(
            "SELECT at_ms, unit, kind, detail FROM ({ALL}) WHERE {OF_NAME} ORDER BY at_ms, seq, ord"
        );
        self.run(&sql, params![since_ms, name])
    }

    /// The newest `limit` entries of `name` (as [`Reader::history`] selects them), oldest
    /// first, and whether older ones were left out.
    pub fn history_last(&self, name: &str, limit: u32) -> rusqlite::Result<(Vec<Entry>, bool)> {
        let sql = format!(
            "SELECT at_ms, unit, kind, detail FROM ({ALL}) WHERE {OF_NAME}
              ORDER BY at_ms DESC, seq DESC, ord DESC LIMIT ?3"
        );
        // One more than asked: whether there is more to show.
        let mut entries = self.run(&sql, params![0, name, i64::from(limit) + 1])?;
        let truncated = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        entries.reverse();
        Ok((entries, truncated))
    }

    /// Everything since `since_ms`, oldest first.
    pub fn events(&self, since_ms: i64) -> rusqlite::Result<Vec<Entry>> {
        let sql = format!("SELECT at_ms, unit, kind, detail FROM ({ALL}) ORDER BY at_ms, seq, ord");
        self.run(&sql, params![since_ms])
    }

    /// Outcomes of recoveries from crashes of `class`: for each such crash of `unit` (or of
    /// every unit, with `None`), whether the next run lasted `min_uptime_ms` (held), fell
    /// short (did not), or cannot be judged yet (no next run, or one still younger than
    /// `min_uptime_ms`). Returns (held, judged).
    pub fn recovery_outcomes(
        &self,
        unit: Option<&str>,
        class: &str,
        min_uptime_ms: i64,
        now_ms: i64,
    ) -> rusqlite::Result<(u32, u32)> {
        let mut stmt = self.conn.prepare(
            "SELECT (SELECT r.started_ms FROM runs r
                      WHERE r.service_id = c.service_id AND r.started_ms >= c.at_ms
                      ORDER BY r.started_ms LIMIT 1),
                    (SELECT r.ended_ms FROM runs r
                      WHERE r.service_id = c.service_id AND r.started_ms >= c.at_ms
                      ORDER BY r.started_ms LIMIT 1)
               FROM crashes c JOIN services s ON s.id = c.service_id
              WHERE c.class = ?1 AND (?2 IS NULL OR s.name = ?2)",
        )?;
        let rows = stmt.query_map(rusqlite::params![class, unit], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
        })?;
        let (mut held, mut judged) = (0, 0);
        for row in rows {
            match row? {
                (Some(start), Some(end)) => {
                    judged += 1;
                    held += u32::from(end - start >= min_uptime_ms);
                }
                (Some(start), None) if now_ms - start >= min_uptime_ms => {
                    judged += 1;
                    held += 1;
                }
                _ => {}
            }
        }
        Ok((held, judged))
    }

    /// The estimate that the next recovery of `unit` from a crash of `class` holds: its own
    /// outcomes, with every unit's as the prior. What the daemon's `confidence_floor` and
    /// `ward why` both read.
    pub fn confidence(
        &self,
        unit: &str,
        class: &str,
        min_uptime_ms: i64,
        now_ms: i64,
    ) -> rusqlite::Result<ward_core::classify::Confidence> {
        let outcomes = |unit: Option<&str>| {
            self.recovery_outcomes(unit, class, min_uptime_ms, now_ms)
                .map(|(successes, trials)| ward_core::classify::Outcomes { successes, trials })
        };
        Ok(ward_core::classify::confidence(
            outcomes(Some(unit))?,
            outcomes(None)?,
        ))
    }

    /// When `unit`'s last run started, ms since the Unix epoch; `None` when it never ran.
    /// What a schedule's `catch_up` measures a missed run from.
    pub fn last_start_ms(&self, unit: &str) -> rusqlite::Result<Option<i64>> {
        self.conn.query_row(
            "SELECT max(r.started_ms) FROM runs r JOIN services s ON s.id = r.service_id
              WHERE s.name = ?1",
            params![unit],
            |r| r.get(0),
        )
    }

    /// The `n`th most recent ended run of `unit` (1 is the last), with its crash verdict
    /// and what ward did about it; `None` when the journal holds fewer ended runs.
    pub fn run_end(&self, unit: &str, n: u32) -> rusqlite::Result<Option<RunEnd>> {
        use rusqlite::OptionalExtension;
        let ended_runs: u32 = self.conn.query_row(
            "SELECT count(*) FROM runs r JOIN services s ON s.id = r.service_id
              WHERE s.name = ?1 AND r.ended_ms IS NOT NULL",
            params![unit],
            |r| r.get(0),
        )?;
        let Some(offset) = n.checked_sub(1) else {
            return Ok(None);
        };
        let run = self
            .conn
            .query_row(
                "SELECT r.id, r.pid, r.started_ms, r.ended_ms, coalesce(r.exit_description, ''),
                        r.exit_code
                   FROM runs r JOIN services s ON s.id = r.service_id
                  WHERE s.name = ?1 AND r.ended_ms IS NOT NULL
                  ORDER BY r.ended_ms DESC, r.id DESC LIMIT 1 OFFSET ?2",
                params![unit, offset],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((run_id, pid, started_ms, ended_ms, exit, exit_code)) = run else {
            return Ok(None);
        };
        let crash = self
            .conn
            .query_row(
                "SELECT id, at_ms, class, severity, evidence, evidence_lines, summary, recommendation
                   FROM crashes WHERE run_id = ?1 ORDER BY id DESC LIMIT 1",
                params![run_id],
                |r| {
                    let lines: Option<String> = r.get(5)?;
                    let joined: String = r.get(4)?;
                    let evidence = lines
                        .and_then(|l| serde_json::from_str::<Vec<String>>(&l).ok())
                        .unwrap_or_else(|| joined.split("; ").map(String::from).collect());
                    Ok((
                        r.get::<_, i64>(0)?,
                        CrashEntry {
                            at_ms: r.get(1)?,
                            class: r.get(2)?,
                            severity: r.get(3)?,
                            evidence,
                            summary: r.get(6)?,
                            recommendation: r.get(7)?,
                        },
                    ))
                },
            )
            .optional()?;
        let next_started_ms: Option<i64> = self.conn.query_row(
            "SELECT min(r.started_ms) FROM runs r JOIN services s ON s.id = r.service_id
              WHERE s.name = ?1 AND r.id > ?2",
            params![unit, run_id],
            |r| r.get(0),
        )?;
        let mut recoveries = Vec::new();
        if let Some((crash_id, _)) = &crash {
            let mut stmt = self.conn.prepare(
                "SELECT action || CASE WHEN delay_ms IS NULL THEN '' ELSE ' after ' || delay_ms || 'ms' END
                   FROM recoveries WHERE crash_id = ?1 ORDER BY id",
            )?;
            for row in stmt.query_map(params![crash_id], |r| r.get::<_, String>(0))? {
                recoveries.push(row?);
            }
        }
        Ok(Some(RunEnd {
            pid,
            started_ms,
            ended_ms,
            next_started_ms,
            exit,
            exit_code,
            crash: crash.map(|(_, c)| c),
            recoveries,
            ended_runs,
        }))
    }

    /// Whether the journal has ever seen a unit of this name.
    pub fn knows(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM services WHERE name = ?1 OR service = ?1)",
            [name],
            |r| r.get(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitRecord, Journal, Record};

    #[test]
    fn history_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let j = Journal::open(&path).unwrap();
        let unit = |s: &str| s.to_string();
        j.record(Record::Unit {
            unit: unit("web"),
            service: unit("web"),
        });
        j.record(Record::RunStarted {
            unit: unit("web"),
            pid: 7,
            start_time: 1,
            boot_id: unit("b"),
            at_ms: 100,
            adopted: false,
        });
        j.record(Record::RunEnded {
            unit: unit("web"),
            pid: 7,
            start_time: 1,
            boot_id: unit("b"),
            at_ms: 200,
            exit: ExitRecord {
                description: unit("killed by SIGSEGV"),
                code: None,
                signal: Some(unit("SIGSEGV")),
                core_dumped: false,
            },
        });
        j.record(Record::Crash {
            unit: unit("web"),
            pid: Some(7),
            at_ms: 200,
            class: unit("signal"),
            severity: unit("error"),
            evidence: unit("killed by SIGSEGV"),
            evidence_lines: vec![unit("killed by SIGSEGV")],
            summary: unit("it crashed"),
            recommendation: None,
        });
        j.record(Record::Recovery {
            unit: unit("web"),
            at_ms: 200,
            action: unit("restart"),
            delay_ms: Some(100),
        });
        j.record(Record::Transition {
            unit: unit("web"),
            at_ms: 200,
            from: unit("running"),
            to: unit("backoff"),
        });
        j.record(Record::Action {
            at_ms: 300,
            who: unit("uid 0"),
            what: unit("stop"),
            targets: unit("web"),
            result: unit("stopped"),
        });
        j.record(Record::RunStarted {
            unit: unit("other"),
            pid: 8,
            start_time: 1,
            boot_id: unit("b"),
            at_ms: 150,
            adopted: false,
        });
        j.sync();
        let r = Reader::open(&path).unwrap();
        let kinds: Vec<String> = r
            .history("web", 0)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            ["start", "exit", "crash", "recovery", "state", "action"]
        );
        assert_eq!(r.history("web", 250).unwrap().len(), 1);
        assert_eq!(r.events(0).unwrap().len(), 7);
        assert!(r.knows("web").unwrap());
        assert!(!r.knows("nope").unwrap());

        // The one ended run, with its verdict and what ward did about it.
        let end = r.run_end("web", 1).unwrap().expect("run 1");
        assert_eq!((end.pid, end.started_ms, end.ended_ms), (7, 100, 200));
        assert_eq!(end.exit, "killed by SIGSEGV");
        assert_eq!(end.ended_runs, 1);
        let crash = end.crash.expect("a crash");
        assert_eq!(crash.class, "signal");
        assert_eq!(crash.summary.as_deref(), Some("it crashed"));
        assert_eq!(end.recoveries, ["restart after 100ms"]);
        assert_eq!(r.run_end("web", 2).unwrap(), None);
        assert_eq!(r.run_end("web", 0).unwrap(), None);
        assert_eq!(r.run_end("other", 1).unwrap(), None, "still running");
    }

    #[test]
    fn entries_of_one_millisecond_keep_the_order_they_were_recorded_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let s = |x: &str| x.to_string();
        // Recent times: retention prunes what is older than its days.
        let t0 = crate::now_ms();
        let started = |pid: u32, at_ms| Record::RunStarted {
            unit: s("nginx"),
            pid,
            start_time: 1,
            boot_id: s("b"),
            at_ms,
            adopted: false,
        };
        let hook = |at_ms| Record::Recovery {
            unit: s("nginx"),
            at_ms,
            action: s("pre_start hook succeeded"),
            delay_ms: None,
        };
        {
            let j = Journal::open(&path).unwrap();
            // The hook succeeds, then the spawn it allowed, in the same millisecond.
            j.record(hook(t0));
            j.record(started(7, t0));
        }
        {
            // A second writer on the file goes on from the numbers the first one left.
            let j = Journal::open(&path).unwrap();
            j.record(Record::RunEnded {
                unit: s("nginx"),
                pid: 7,
                start_time: 1,
                boot_id: s("b"),
                at_ms: t0 + 1,
                exit: ExitRecord {
                    description: s("exited with code 1"),
                    code: Some(1),
                    signal: None,
                    core_dumped: false,
                },
            });
            j.record(hook(t0 + 1));
            j.record(started(8, t0 + 1));
            j.sync();
        }
        let r = Reader::open(&path).unwrap();
        let order: Vec<(String, String)> = r
            .history("nginx", 0)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect();
        let want = [
            ("recovery", "pre_start hook succeeded"),
            ("start", "pid 7"),
            ("exit", "pid 7: exited with code 1"),
            ("recovery", "pre_start hook succeeded"),
            ("start", "pid 8"),
        ];
        assert_eq!(
            order,
            want.map(|(k, d)| (s(k), s(d))).to_vec(),
            "recording order within a millisecond"
        );
        let (last, truncated) = r.history_last("nginx", 2).unwrap();
        let last: Vec<&str> = last.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(last, ["pre_start hook succeeded", "pid 8"]);
        assert!(truncated);
        assert!(!r.history_last("nginx", 5).unwrap().1);
    }

    #[test]
    fn health_changes_are_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let j = Journal::open(&path).unwrap();
        j.record(Record::Unit {
            unit: "api".into(),
            service: "api".into(),
        });
        j.record(Record::Health {
            unit: "api".into(),
            at_ms: 10,
            from: "healthy".into(),
            to: "unhealthy".into(),
            detail: "the probe ended with exit 7".into(),
        });
        j.sync();
        let h = Reader::open(&path).unwrap().history("api", 0).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].kind, "health");
        assert_eq!(
            h[0].detail,
            "healthy -> unhealthy: the probe ended with exit 7"
        );
    }
}
