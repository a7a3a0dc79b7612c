//! Retention: the journal keeps `keep_days` of history and at most `keep_rows` rows of each
//! kind per service; older rows are pruned by the writer in the background.

use rusqlite::Connection;

use crate::now_ms;

/// How much history to keep.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Rows older than this many days go.
    pub keep_days: u32,
    /// Per unit (`web.0` and `web.1` count apart) and per kind (runs, crashes, …), at most
    /// this many rows stay.
    pub keep_rows: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_days: 30,
            keep_rows: 100_000,
        }
    }
}

/// Tables with a time column, and the condition that makes a row old.
const BY_TIME: &[(&str, &str)] = &[
    ("runs", "ended_ms IS NOT NULL AND ended_ms < ?1"),
    ("crashes", "at_ms < ?1"),
    ("recoveries", "at_ms < ?1"),
    ("health", "at_ms < ?1"),
    ("events", "at_ms < ?1"),
    ("actions", "at_ms < ?1"),
];

/// Tables kept per service.
const PER_SERVICE: &[&str] = &["runs", "crashes", "recoveries", "health", "events"];

/// Deletes what retention no longer keeps; returns how many rows went.
pub(crate) fn prune(conn: &Connection, r: Retention) -> rusqlite::Result<u64> {
    let cutoff = now_ms() - i64::from(r.keep_days) * 86_400_000;
    let tx = conn.unchecked_transaction()?;
    let mut gone = 0u64;
    for (table, old) in BY_TIME {
        gone += tx.execute(&format!("DELETE FROM {table} WHERE {old}"), [cutoff])? as u64;
    }
    let services: Vec<i64> = tx
        .prepare("SELECT id FROM services")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in PER_SERVICE {
        let sql = format!(
            "DELETE FROM {table} WHERE service_id = ?1 AND id < (
                 SELECT id FROM {table} WHERE service_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"
        );
        for id in &services {
            gone += tx.execute(&sql, rusqlite::params![id, r.keep_rows.saturating_sub(1)])? as u64;
        }
    }
    tx.commit()?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, Record};

    #[test]
    fn old_rows_and_rows_over_the_cap_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            let j = Journal::open(&path).unwrap();
            let day = 86_400_000;
            for i in 0..10 {
                j.record(Record::Transition {
                    unit: "old".into(),
                    at_ms: now_ms() - 40 * day + i,
                    from: "a".into(),
                    to: "b".into(),
                });
            }
            for i in 0..10 {
                j.record(Record::Transition {
                    unit: "busy".into(),
                    at_ms: now_ms() + i,
                    from: "a".into(),
                    to: "b".into(),
                });
            }
            j.sync();
        }
        let conn = crate::schema::open_checked(&path).unwrap();
        let gone = prune(
            &conn,
            Retention {
                keep_days: 30,
                keep_rows: 4,
            },
        )
        .unwrap();
        assert_eq!(gone, 16);
        let left: Vec<i64> = conn
            .prepare("SELECT at_ms FROM events ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left.len(), 4, "the newest four of the busy service stay");
        assert!(left.iter().all(|&t| t > now_ms() - 86_400_000));
    }
}
