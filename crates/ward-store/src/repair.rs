//! Repair: a damaged journal is moved aside (never deleted), the newest good backup is put
//! in its place, and every row that can still be read from the damaged file is copied over.
//!
//! SQLite's own recovery extension is not part of the amalgamation the bundled build
//! compiles, so rows are salvaged here, table by table in rowid order: a read that fails
//! skips ahead past the damage (further each time) instead of giving up on the table.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params_from_iter};

use crate::{StoreError, backup, schema};

/// Every table, parents before children.
const TABLES: &[&str] = &[
    "services",
    "runs",
    "crashes",
    "recoveries",
    "health",
    "actions",
    "events",
];

/// What a repair did, for the daemon's log, the journal and `ward doctor`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Why the journal needed repair.
    pub reason: String,
    /// Where the damaged (or replaced) file went.
    pub moved_to: Option<PathBuf>,
    /// The backup restored, if there was a good one.
    pub backup: Option<PathBuf>,
    /// Rows taken from the backup.
    pub from_backup: u64,
    /// Rows copied from the damaged file that the backup did not have, by table.
    pub recovered: Vec<(String, u64)>,
    /// What could not be read from the damaged file.
    pub lost: Vec<String>,
}

impl RepairReport {
    /// True if the repaired journal holds nothing at all: the caller must say so loudly.
    pub fn is_empty(&self) -> bool {
        self.from_backup == 0 && self.recovered.iter().all(|(_, n)| *n == 0)
    }
}

impl fmt::Display for RepairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)?;
        if let Some(p) = &self.moved_to {
            write!(f, "; the old file was moved to {}", p.display())?;
        }
        match &self.backup {
            Some(b) => write!(f, "; restored {} ({} rows)", b.display(), self.from_backup)?,
            None => write!(f, "; no good backup to restore")?,
        }
        let total: u64 = self.recovered.iter().map(|(_, n)| n).sum();
        let by_table: Vec<String> = self
            .recovered
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        write!(f, "; recovered {total} more rows from the old file")?;
        if !by_table.is_empty() {
            write!(f, " ({})", by_table.join(", "))?;
        }
        if self.lost.is_empty() {
            write!(f, "; nothing unreadable")
        } else {
            write!(f, "; lost: {}", self.lost.join("; "))
        }
    }
}

/// Repairs the journal at `journal`; `reason` says why. The daemon must not be writing it.
pub fn repair(journal: &Path, reason: &str) -> Result<RepairReport, StoreError> {
    let mut report = RepairReport {
        reason: reason.to_string(),
        ..RepairReport::default()
    };
    report.moved_to = backup::move_aside(journal, "damaged")?;
    let good = backup::list(journal)
        .into_iter()
        .find(|b| schema::integrity_check(b).is_ok_and(|c| c == ["ok"]));
    if let Some(b) = &good {
        std::fs::copy(b, journal).map_err(|source| StoreError::Io {
            path: journal.to_path_buf(),
            source,
        })?;
        report.backup = Some(b.clone());
    }
    let conn = schema::open_checked(journal)?;
    let err = |source| StoreError::Sqlite {
        path: journal.to_path_buf(),
        source,
    };
    report.from_backup = count_rows(&conn).map_err(err)?;
    if let Some(old) = report.moved_to.clone() {
        salvage(&old, &conn, &mut report).map_err(err)?;
    }
    Ok(report)
}

fn count_rows(conn: &Connection) -> rusqlite::Result<u64> {
    let mut n = 0;
    for t in TABLES {
        let c: i64 = conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
        n += c as u64;
    }
    Ok(n)
}

/// Copies what can be read from `old` into `conn`, keeping rows the backup already has.
fn salvage(old: &Path, conn: &Connection, report: &mut RepairReport) -> rusqlite::Result<()> {
    let src = match Connection::open_with_flags(old, OpenFlags::SQLITE_OPEN_READ_ONLY) {
        Ok(c) => c,
        Err(e) => {
            report
                .lost
                .push(format!("the old file cannot be opened: {e}"));
            return Ok(());
        }
    };
    // Rows arrive table by table; references are checked once all are in.
    conn.pragma_update(None, "foreign_keys", false)?;
    let rows = |t: &str| -> rusqlite::Result<u64> {
        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
    };
    for table in TABLES {
        let before = rows(table)?;
        match salvage_table(&src, conn, table) {
            Ok((_, errors)) => {
                // New rows only; rows the backup had were refreshed in place.
                report
                    .recovered
                    .push((table.to_string(), rows(table)?.saturating_sub(before)));
                if errors > 0 {
                    report
                        .lost
                        .push(format!("{table}: {errors} damaged stretches skipped"));
                }
            }
            Err(e) => report.lost.push(format!("{table}: {e}")),
        }
    }
    // Rows whose parent was lost cannot stay.
    let orphans: Vec<(String, i64)> = conn
        .prepare("PRAGMA foreign_key_check")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if !orphans.is_empty() {
        report.lost.push(format!(
            "{} rows whose service or run was unreadable",
            orphans.len()
        ));
    }
    for (table, rowid) in orphans {
        conn.execute(&format!("DELETE FROM {table} WHERE rowid = ?1"), [rowid])?;
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Copies one table in rowid order; returns rows copied and damaged stretches skipped.
fn salvage_table(src: &Connection, dst: &Connection, table: &str) -> rusqlite::Result<(u64, u32)> {
    let names = |conn: &Connection| -> rusqlite::Result<Vec<String>> {
        conn.prepare(&format!("PRAGMA table_info({table})"))?
            .query_map([], |r| r.get(1))?
            .collect()
    };
    // A damaged file of an older schema lacks the newer columns: copy what both have.
    let theirs = names(src).unwrap_or_default();
    let columns: Vec<String> = names(dst)?
        .into_iter()
        .filter(|c| theirs.is_empty() || theirs.contains(c))
        .collect();
    let list = columns.join(", ");
    let marks = vec!["?"; columns.len()].join(", ");
    let select = format!("SELECT rowid, {list} FROM {table} WHERE rowid > ?1 ORDER BY rowid");
    // The damaged file is newer than the backup: where both have a row, its version wins
    // (a run that ended after the backup keeps its end).
    let insert = format!("INSERT OR REPLACE INTO {table} ({list}) VALUES ({marks})");
    let tx = dst.unchecked_transaction()?;
    let (mut copied, mut errors, mut last, mut skip) = (0u64, 0u32, 0i64, 1i64);
    loop {
        let mut stmt = match src.prepare(&select) {
            Ok(s) => s,
            Err(e) => {
                // The table is missing from the old file (an older schema) or unreadable.
                tx.commit()?;
                return if copied == 0 && errors == 0 {
                    Err(e)
                } else {
                    Ok((copied, errors))
                };
            }
        };
        let mut rows = stmt.query([last])?;
        let failed = loop {
            match rows.next() {
                Ok(Some(row)) => {
                    last = row.get(0)?;
                    let values: Vec<rusqlite::types::Value> = (1..=columns.len())
                        .map(|i| row.get(i))
                        .collect::<rusqlite::Result<_>>()?;
                    copied += tx
                        .prepare_cached(&insert)?
                        .execute(params_from_iter(values))? as u64;
                }
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        if !failed {
            break;
        }
        errors += 1;
        if errors > 32 {
            break;
        }
        last += skip;
        skip *= 4;
    }
    tx.commit()?;
    Ok((copied, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, Record};
    use std::io::{Seek, SeekFrom, Write};

    fn daemon(at: i64) -> Record {
        Record::Daemon {
            at_ms: at,
            what: "daemon started".into(),
            detail: "x".repeat(200),
        }
    }

    #[test]
    fn overwritten_pages_are_repaired_from_backup_with_the_loss_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            let j = Journal::open(&path).unwrap();
            for i in 0..200 {
                j.record(daemon(i));
            }
            j.sync();
            backup::backup(&path, 3).unwrap();
            for i in 200..2000 {
                j.record(daemon(i));
            }
            j.sync();
        }
        // Checkpoint, so the rows live in the main file, then overwrite pages in its middle.
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let len = f.metadata().unwrap().len();
        f.seek(SeekFrom::Start(len / 2)).unwrap();
        f.write_all(&vec![0xA5; 3 * 4096]).unwrap();
        drop(f);

        let err = schema::open_checked(&path).unwrap_err();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
        let report = repair(&path, "damaged").unwrap();
        assert!(
            report.moved_to.as_ref().unwrap().exists(),
            "the damaged file is kept"
        );
        assert!(report.backup.is_some());
        assert!(report.from_backup >= 200);
        let events = report
            .recovered
            .iter()
            .find(|(t, _)| t == "events")
            .unwrap()
            .1;
        assert!(events > 1000, "{report}");
        assert!(
            !report.lost.is_empty(),
            "the overwritten rows are reported: {report}"
        );
        assert_eq!(schema::integrity_check(&path).unwrap(), ["ok"]);
        let r = crate::Reader::open(&path).unwrap();
        let n = r.events(0).unwrap().len() as u64;
        assert!(
            n >= 200 + events.min(1800) - 1 && n < 2000,
            "{n} rows, {report}"
        );
    }

    #[test]
    fn without_a_backup_the_readable_rows_are_still_saved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            let j = Journal::open(&path).unwrap();
            for i in 0..50 {
                j.record(daemon(i));
            }
        }
        let report = repair(&path, "test").unwrap();
        assert_eq!(report.backup, None);
        assert!(!report.is_empty());
        assert_eq!(
            crate::Reader::open(&path).unwrap().events(0).unwrap().len(),
            50
        );
    }
}
