//! The journal's schema, its migrations, and the checks made on every open.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// The schema this ward writes. `PRAGMA user_version` holds a file's version.
pub const SCHEMA_VERSION: i64 = 6;

/// Migration `i` takes a file from version `i` to `i + 1`. Append only: a released
/// migration never changes.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    r#"
    CREATE TABLE services (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        service       TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL
    );
    CREATE TABLE runs (
        id               INTEGER PRIMARY KEY,
        service_id       INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        pid              INTEGER NOT NULL,
        start_time       INTEGER NOT NULL,
        boot_id          TEXT NOT NULL,
        started_ms       INTEGER NOT NULL,
        adopted          INTEGER NOT NULL DEFAULT 0,
        ended_ms         INTEGER,
        exit_description TEXT,
        exit_code        INTEGER,
        exit_signal      TEXT,
        core_dumped      INTEGER,
        UNIQUE (boot_id, pid, start_time)
    );
    CREATE TABLE crashes (
        id         INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        at_ms      INTEGER NOT NULL,
        class      TEXT NOT NULL,
        severity   TEXT NOT NULL,
        evidence   TEXT NOT NULL
    );
    CREATE TABLE recoveries (
        id         INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        crash_id   INTEGER REFERENCES crashes(id) ON DELETE SET NULL,
        at_ms      INTEGER NOT NULL,
        action     TEXT NOT NULL,
        delay_ms   INTEGER
    );
    CREATE TABLE health (
        id         INTEGER PRIMARY KEY,
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        at_ms      INTEGER NOT NULL,
        from_state TEXT NOT NULL,
        to_state   TEXT NOT NULL,
        detail     TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE actions (
        id      INTEGER PRIMARY KEY,
        at_ms   INTEGER NOT NULL,
        who     TEXT NOT NULL,
        what    TEXT NOT NULL,
        targets TEXT NOT NULL,
        result  TEXT NOT NULL
    );
    CREATE INDEX runs_by_service ON runs (service_id, started_ms);
    CREATE INDEX crashes_by_service ON crashes (service_id, at_ms);
    "#,
    // 1 -> 2: state transitions and the daemon's own events, for `ward events`.
    r#"
    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        at_ms      INTEGER NOT NULL,
        service_id INTEGER REFERENCES services(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        detail     TEXT NOT NULL
    );
    CREATE INDEX events_by_time ON events (at_ms);
    CREATE INDEX events_by_service ON events (service_id, at_ms);
    CREATE INDEX recoveries_by_service ON recoveries (service_id, at_ms);
    CREATE INDEX actions_by_time ON actions (at_ms);
    "#,
    // 2 -> 3: the whole verdict of a crash, for `ward why --run N` on any earlier run.
    r#"
    ALTER TABLE crashes ADD COLUMN summary TEXT;
    ALTER TABLE crashes ADD COLUMN evidence_lines TEXT;
    ALTER TABLE crashes ADD COLUMN recommendation TEXT;
    CREATE INDEX health_by_service ON health (service_id, at_ms);
    "#,
    // 3 -> 4: the head of the audit trail (`audit.jsonl`): its last record's number and
    // hash, against which an edit of that record, or records cut from the end, show.
    r#"
    CREATE TABLE audit_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    "#,
    // 4 -> 5: the order in which the daemon recorded things, for what happened within one
    // millisecond (a hook that succeeded, then the spawn it allowed). Older rows keep NULL.
    r#"
    ALTER TABLE runs ADD COLUMN start_seq INTEGER;
    ALTER TABLE runs ADD COLUMN end_seq INTEGER;
    ALTER TABLE crashes ADD COLUMN seq INTEGER;
    ALTER TABLE recoveries ADD COLUMN seq INTEGER;
    ALTER TABLE health ADD COLUMN seq INTEGER;
    ALTER TABLE events ADD COLUMN seq INTEGER;
    ALTER TABLE actions ADD COLUMN seq INTEGER;
    "#,
    // 5 -> 6: the state changes that name backoff, for every unit's time in backoff
    // (`GET /v1/status?stats=true`) without a scan of every state change of the day (a
    // third of that read at 5,000 units). Partial: it holds only those few rows.
    r#"
    CREATE INDEX events_backoff ON events (at_ms)
        WHERE kind = 'state' AND detail LIKE '%backoff%';
    "#,
];

/// The last order number the file holds, from which a writer goes on.
pub(crate) fn last_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        // The tables only ever appended to hold their numbers in rowid order: their last
        // row has the highest, found without a scan. A run's end is written into its row
        // later, so only `end_seq` needs its maximum.
        "SELECT coalesce(max(s), 0) FROM (
            SELECT max(end_seq) AS s FROM runs
            UNION ALL SELECT * FROM (SELECT start_seq FROM runs ORDER BY rowid DESC LIMIT 1)
            UNION ALL SELECT * FROM (SELECT seq FROM crashes ORDER BY rowid DESC LIMIT 1)
            UNION ALL SELECT * FROM (SELECT seq FROM recoveries ORDER BY rowid DESC LIMIT 1)
            UNION ALL SELECT * FROM (SELECT seq FROM health ORDER BY rowid DESC LIMIT 1)
            UNION ALL SELECT * FROM (SELECT seq FROM events ORDER BY rowid DESC LIMIT 1)
            UNION ALL SELECT * FROM (SELECT seq FROM actions ORDER BY rowid DESC LIMIT 1))",
        [],
        |r| r.get(0),
    )
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens (creating if needed) the journal for writing: quick integrity check, WAL, foreign
/// keys, migrations to [`SCHEMA_VERSION`] with a backup of the file before each one.
///
/// A damaged file is an error, never silently replaced: the caller repairs it (which
/// keeps the damaged file) or refuses to start.
pub fn open_checked(path: &Path) -> Result<Connection, StoreError> {
    let err = sqlite(path);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )
    .map_err(&err)?;
    quick_check(&conn, path)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(&err)?;
    // FULL: each commit is on disk before it is acknowledged, so a power cut loses at
    // most the batch being written.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(&err)?;
    // The writer appends: the hot pages are the right edges of a few B-trees. SQLite's
    // default page cache, 2 MiB, would fill with pages written once and stay in the
    // daemon's memory; 512 KiB holds the edges many times over.
    conn.pragma_update(None, "cache_size", -512).map_err(&err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(&err)?;
    migrate(&conn, path, SCHEMA_VERSION)?;
    Ok(conn)
}

/// `PRAGMA quick_check`: fails with [`StoreError::Damaged`] unless it says `ok`.
pub(crate) fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let result: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match result {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(()),
        Ok(lines) => Err(StoreError::Damaged {
            path: path.to_path_buf(),
            detail: lines.join("; "),
        }),
        Err(e) => Err(StoreError::Damaged {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

/// Whether an error means the file is damaged (as opposed to unreadable for another reason,
/// such as permissions), so that a repair is the right answer.
pub fn is_damage(e: &StoreError) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match e {
        StoreError::Damaged { .. } => true,
        StoreError::Sqlite { source, .. } => {
            matches!(
                source.sqlite_error_code(),
                Some(DatabaseCorrupt | NotADatabase)
            )
        }
        _ => false,
    }
}

/// `PRAGMA integrity_check` of a file, opened read-only: `["ok"]` when it is sound.
pub fn integrity_check(path: &Path) -> Result<Vec<String>, StoreError> {
    let err = sqlite(path);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(&err)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(&err)?;
    let lines = stmt
        .query_map([], |r| r.get(0))
        .map_err(&err)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(&err)?;
    Ok(lines)
}

/// The file's schema version.
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Applies the migrations from the file's version up to `target`, each in a transaction,
/// each after a backup of the file as it was (`journal.db.pre-vN`).
pub(crate) fn migrate(conn: &Connection, path: &Path, target: i64) -> Result<(), StoreError> {
    let err = sqlite(path);
    let current = version(conn).map_err(&err)?;
    // A file that was empty holds nothing worth a backup at any step.
    let had_data = current > 0;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    // A file with data goes one migration at a time, each after a backup of the file as
    // it was. A new file takes the whole schema in one commit: one wait for the disk
    // instead of one for each migration (each a few tenths of a millisecond before the
    // daemon's first spawn), and a file that holds half a schema cannot be left.
    let width = if had_data {
        1
    } else {
        (target - current).max(1)
    };
    for from in (current..target).step_by(width as usize) {
        let step = from..(from + width).min(target);
        if had_data {
            let backup = free_pre_migration_path(path, step.end);
            conn.backup(
                rusqlite::MAIN_DB,
                &backup,
                None::<fn(rusqlite::backup::Progress)>,
            )
            .map_err(&err)?;
            tracing::info!(backup = %backup.display(), from = step.start, to = step.end, "journal backed up before a migration");
        }
        let tx = conn.unchecked_transaction().map_err(&err)?;
        for migration in &MIGRATIONS[step.start as usize..step.end as usize] {
            tx.execute_batch(migration).map_err(&err)?;
        }
        tx.pragma_update(None, "user_version", step.end)
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
    }
    Ok(())
}

/// Where the backup before the migration to `version` goes.
pub fn pre_migration_path(path: &Path, version: i64) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".pre-v{version}"));
    PathBuf::from(p)
}

/// Where the copy before the migration to `version` goes this time: the first of
/// `journal.db.pre-vN`, `.pre-vN.2`, `.pre-vN.3`… that does not exist. A journal restored
/// from an older backup is migrated again, and SQLite's backup would write over the copy
/// the first migration left, which ward promises never to delete.
fn free_pre_migration_path(path: &Path, version: i64) -> PathBuf {
    let first = pre_migration_path(path, version);
    // Not followed: a link in the way counts as taken.
    let free = |p: &PathBuf| p.symlink_metadata().is_err();
    if free(&first) {
        return first;
    }
    (2u32..)
        .map(|n| {
            let mut p = first.as_os_str().to_owned();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        })
        .find(free)
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_the_whole_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let conn = open_checked(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        let cache: i64 = conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .unwrap();
        assert_eq!(cache, -512, "a page cache of 512 KiB, not SQLite's 2 MiB");
        // No backup for a file that had nothing in it, at any step.
        for v in 1..=SCHEMA_VERSION {
            assert!(!pre_migration_path(&path, v).exists());
        }
    }

    /// A file of the first schema version, holding one service.
    fn at_version_one_with_a_service(path: &Path) {
        let conn = Connection::open(path).unwrap();
        migrate(&conn, path, 1).unwrap();
        conn.execute(
            "INSERT INTO services (name, service, first_seen_ms) VALUES ('web', 'web', 1)",
            [],
        )
        .unwrap();
    }

    /// The schema of every table and index, as SQLite keeps it.
    fn schema_of(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A new file takes the schema in one commit; a file with data migrated one step at a
    /// time ends with the same schema.
    #[test]
    fn a_new_file_in_one_commit_and_an_old_one_step_by_step_end_alike() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.db");
        let fresh = open_checked(&fresh).unwrap();
        let stepped = dir.path().join("stepped.db");
        at_version_one_with_a_service(&stepped);
        let stepped = open_checked(&stepped).unwrap();
        assert_eq!(version(&fresh).unwrap(), SCHEMA_VERSION);
        assert_eq!(schema_of(&fresh), schema_of(&stepped));
        assert!(schema_of(&fresh).len() > 5);
    }

    #[test]
    fn a_file_of_the_previous_version_is_migrated_after_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        at_version_one_with_a_service(&path);
        let conn = open_checked(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM services", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "rows survive the migration");
        conn.execute(
            "INSERT INTO events (at_ms, kind, detail) VALUES (1, 'x', 'y')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO crashes (service_id, at_ms, class, severity, evidence, summary)
             VALUES (1, 1, 'segfault', 'high', 'x', 'y')",
            [],
        )
        .unwrap();
        // One backup before each step, each of the version it was taken from.
        for v in 2..=SCHEMA_VERSION {
            let backup = Connection::open(pre_migration_path(&path, v)).unwrap();
            assert_eq!(version(&backup).unwrap(), v - 1);
        }
    }

    #[test]
    fn a_second_migration_to_a_version_keeps_the_copy_of_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        // The copy an earlier migration to version 2 left, as a restore then brings a
        // version-1 journal back to be migrated again.
        let earlier = pre_migration_path(&path, 2);
        std::fs::write(&earlier, b"the first copy").unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            migrate(&conn, &path, 1).unwrap();
        }
        drop(open_checked(&path).unwrap());
        assert_eq!(std::fs::read(&earlier).unwrap(), b"the first copy");
        let mut second = earlier.into_os_string();
        second.push(".2");
        let backup = Connection::open(&second).unwrap();
        assert_eq!(version(&backup).unwrap(), 1);
    }

    #[test]
    fn a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(matches!(
            open_checked(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
