//! Reading the journal: a unit's history and the stream of events, in time order.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;

use crate::StoreError;

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
    conn: Connection,
}

/// Every kind of entry as one time-ordered relation. `?1` is the earliest time.
const ALL: &str = "
    SELECT r.started_ms AS at_ms, s.name AS unit, s.service AS service, 'start' AS kind,
           'pid ' || r.pid || CASE WHEN r.adopted THEN ' (adopted from an earlier daemon)' ELSE '' END AS detail,
           1 AS ord, NULL AS targets
      FROM runs r JOIN services s ON s.id = r.service_id WHERE r.started_ms >= ?1
    UNION ALL
    SELECT r.ended_ms, s.name, s.service, 'exit', 'pid ' || r.pid || ': ' || r.exit_description, 2, NULL
      FROM runs r JOIN services s ON s.id = r.service_id
     WHERE r.ended_ms IS NOT NULL AND r.ended_ms >= ?1
    UNION ALL
    SELECT c.at_ms, s.name, s.service, 'crash', c.class || ' (' || c.severity || '): ' || c.evidence, 3, NULL
      FROM crashes c JOIN services s ON s.id = c.service_id WHERE c.at_ms >= ?1
    UNION ALL
    SELECT v.at_ms, s.name, s.service, 'recovery',
           v.action || CASE WHEN v.delay_ms IS NULL THEN '' ELSE ' after ' || v.delay_ms || 'ms' END, 4, NULL
      FROM recoveries v JOIN services s ON s.id = v.service_id WHERE v.at_ms >= ?1
    UNION ALL
    SELECT e.at_ms, s.name, s.service, e.kind, e.detail, 5, NULL
      FROM events e LEFT JOIN services s ON s.id = e.service_id WHERE e.at_ms >= ?1
    UNION ALL
    SELECT a.at_ms, NULL, NULL, 'action', a.what || ' ' || a.targets || ' by ' || a.who || ': ' || a.result, 6,
           ',' || a.targets || ','
      FROM actions a WHERE a.at_ms >= ?1
";

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
            "SELECT at_ms, unit, kind, detail FROM ({ALL})
              WHERE unit = ?2 OR service = ?2
                 -- an action names units: `web`, or `web.0` of service `web`
                 OR instr(targets, ',' || ?2 || ',') > 0
                 OR instr(targets, ',' || ?2 || '.') > 0
              ORDER BY at_ms, ord"
        );
        self.run(&sql, params![since_ms, name])
    }

    /// Everything since `since_ms`, oldest first.
    pub fn events(&self, since_ms: i64) -> rusqlite::Result<Vec<Entry>> {
        let sql = format!("SELECT at_ms, unit, kind, detail FROM ({ALL}) ORDER BY at_ms, ord");
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
    }
}
