//! Online backups of the journal, verified after writing, the newest K kept; and putting
//! one back.

use std::fs;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::{StoreError, schema};

/// Backups live beside the journal, in `backups/`.
pub fn backup_dir(journal: &Path) -> PathBuf {
    journal
        .parent()
        .map_or_else(|| PathBuf::from("backups"), |d| d.join("backups"))
}

/// Takes an online backup (SQLite's backup API, consistent while the daemon writes),
/// verifies it with `PRAGMA integrity_check`, and keeps the newest `keep` backups.
/// Returns the new file.
pub fn backup(journal: &Path, keep: usize) -> Result<PathBuf, StoreError> {
    let dir = backup_dir(journal);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let name = format!("journal-{}.db", stamp(true));
    let tmp = dir.join(format!(".{name}.tmp"));
    let dest = dir.join(&name);
    let sqlite = |source| StoreError::Sqlite {
        path: journal.to_path_buf(),
        source,
    };
    let src =
        Connection::open_with_flags(journal, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let _ = fs::remove_file(&tmp);
    src.backup(
        rusqlite::MAIN_DB,
        &tmp,
        None::<fn(rusqlite::backup::Progress)>,
    )
    .map_err(sqlite)?;
    // A backup is one self-contained file: out of WAL mode, so no -wal or -shm beside it.
    Connection::open(&tmp)
        .and_then(|c| c.pragma_update(None, "journal_mode", "DELETE"))
        .map_err(|source| StoreError::Sqlite {
            path: tmp.clone(),
            source,
        })?;
    let check = schema::integrity_check(&tmp)?;
    if check != ["ok"] {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::Damaged {
            path: tmp,
            detail: format!("the backup failed its check: {}", check.join("; ")),
        });
    }
    fs::rename(&tmp, &dest).map_err(io(&dest))?;
    prune(&dir, keep);
    Ok(dest)
}

/// The backups in `dir`, newest first (the names sort by time).
pub fn list(journal: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(backup_dir(journal))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("journal-") && n.ends_with(".db"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.reverse();
    files
}

fn prune(dir: &Path, keep: usize) {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("journal-") && n.ends_with(".db"))
    });
    files.sort();
    let excess = files.len().saturating_sub(keep.max(1));
    for old in &files[..excess] {
        let _ = fs::remove_file(old);
    }
}

/// `20261126T141207.123Z` (with `nanos`, `20261126T141207.123456789Z`): sorts by time,
/// safe in a file name.
pub(crate) fn stamp(nanos: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() as i64;
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let fraction = if nanos {
        format!("{:09}", now.subsec_nanos())
    } else {
        format!("{:03}", ms.rem_euclid(1000))
    };
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{fraction}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
    )
}

/// Puts `file` in place of the journal (the daemon must not run). The journal it replaces
/// is moved aside, never deleted. Returns where it went, if there was one.
pub fn restore(journal: &Path, file: &Path) -> Result<Option<PathBuf>, StoreError> {
    let check = schema::integrity_check(file)?;
    if check != ["ok"] {
        return Err(StoreError::Damaged {
            path: file.to_path_buf(),
            detail: check.join("; "),
        });
    }
    let version = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| schema::version(&c))
        .map_err(|source| StoreError::Sqlite {
            path: file.to_path_buf(),
            source,
        })?;
    if version > schema::SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: file.to_path_buf(),
            found: version,
            supported: schema::SCHEMA_VERSION,
        });
    }
    let aside = move_aside(journal, "replaced")?;
    fs::copy(file, journal).map_err(|source| StoreError::Io {
        path: journal.to_path_buf(),
        source,
    })?;
    // Opening migrates a backup of an older schema and proves the result usable.
    schema::open_checked(journal)?;
    Ok(aside)
}

/// Moves the journal and its WAL and shared-memory files to `journal.db.WHY-STAMP`.
pub(crate) fn move_aside(journal: &Path, why: &str) -> Result<Option<PathBuf>, StoreError> {
    if !journal.exists() {
        return Ok(None);
    }
    let mut aside = journal.as_os_str().to_owned();
    aside.push(format!(".{why}-{}", stamp(false)));
    let aside = PathBuf::from(aside);
    for suffix in ["", "-wal", "-shm"] {
        let mut from = journal.as_os_str().to_owned();
        from.push(suffix);
        let mut to = aside.as_os_str().to_owned();
        to.push(suffix);
        match fs::rename(&from, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: PathBuf::from(from),
                    source,
                });
            }
        }
    }
    Ok(Some(aside))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, Record};

    #[test]
    fn backups_are_verified_rotated_and_restorable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let j = Journal::open(&path).unwrap();
        j.record(Record::Daemon {
            at_ms: 1,
            what: "daemon started".into(),
            detail: String::new(),
        });
        j.sync();
        let mut made = Vec::new();
        for _ in 0..4 {
            made.push(backup(&path, 2).unwrap());
        }
        assert_eq!(list(&path), [made[3].clone(), made[2].clone()]);
        drop(j);
        let aside = restore(&path, &made[3]).unwrap().unwrap();
        assert!(aside.exists());
        let r = crate::Reader::open(&path).unwrap();
        assert_eq!(r.events(0).unwrap().len(), 1);
    }

    #[test]
    fn stamps_sort_and_read_as_utc() {
        let s = stamp(false);
        assert_eq!(s.len(), 20, "{s}");
        assert_eq!(stamp(true).len(), 26);
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }
}
