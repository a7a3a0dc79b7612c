//! Snapshots of a service's `data` paths, taken before each clean start and put back by
//! the `restore` strategy. Copies run on a blocking thread; the spawn waits for them, and
//! a failed restore gives the restart up.
//!
//! The recursive copy is written here: a few lines over `std::fs` (files, directories,
//! symbolic links, permissions), where a crate would bring more than it saves.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ward_core::recovery::{FileJob, Preparation, file_job};
use ward_store::{Record, now_ms};

use crate::logs;
use crate::supervisor::Supervisor;

/// A snapshot or restore that ended: the unit, which job, and the snapshot's path or the
/// error.
pub(crate) type FileJobDone = (String, FileJob, io::Result<PathBuf>);

impl Supervisor {
    /// A spawn the machine asked for: restore the data first if the strategy says so, or
    /// snapshot it first if this is a clean start. Returns true when the spawn waits.
    pub(crate) fn files_first(&mut self, name: &str) -> bool {
        // A verdict still settling is a crash not yet named: not a clean end to snapshot.
        let settling = self.pending.iter().any(|p| p.unit == name);
        let state_dir = self.config.supervisor.state_dir.clone();
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        let data = unit.instance.service.data.clone();
        if data.is_empty() {
            return false;
        }
        let last_was_crash = unit
            .verdict
            .as_deref()
            .is_some_and(|(v, _)| v.class.is_crash());
        let restore = std::mem::take(&mut unit.restore_before_spawn);
        let Some(job) = file_job(restore, settling, last_was_crash) else {
            return false;
        };
        let keep = unit.instance.service.data_snapshots as usize;
        let (tx, unit_name) = (self.files_tx.clone(), name.to_string());
        tokio::task::spawn_blocking(move || {
            let outcome = match job {
                FileJob::Snapshot => take(&state_dir, &unit_name, &data, keep),
                FileJob::Restore => restore_latest(&state_dir, &unit_name, &data),
            };
            let _ = tx.send((unit_name, job, outcome));
        });
        true
    }

    /// A snapshot or restore ended: the waiting spawn happens now (a failed snapshot is
    /// noted and does not hold the start back; a failed restore gives up).
    pub(crate) fn file_job_done(&mut self, name: &str, job: FileJob, outcome: io::Result<PathBuf>) {
        let Some(unit) = self.units.get(name) else {
            return;
        };
        let sink = self.logs.sink();
        let text = match (job, &outcome) {
            (FileJob::Snapshot, Ok(p)) => format!("data snapshot taken: {}", p.display()),
            (FileJob::Snapshot, Err(e)) => format!("data snapshot failed: {e}"),
            (FileJob::Restore, Ok(p)) => format!("data restored from {}", p.display()),
            (FileJob::Restore, Err(e)) => format!("data restore failed: {e}"),
        };
        logs::note(&sink, &unit.log, &text);
        if job == FileJob::Restore {
            self.journal.record(Record::Recovery {
                unit: name.to_string(),
                at_ms: now_ms(),
                action: text.clone(),
                delay_ms: None,
            });
        } else {
            self.journal.record(Record::Daemon {
                at_ms: now_ms(),
                what: "data snapshot".into(),
                detail: format!("{name}: {text}"),
            });
        }
        match (job, outcome) {
            (FileJob::Restore, Err(e)) => {
                self.preparation_failed(name, Preparation::Restore, &e.to_string());
            }
            _ => {
                if let Some(answer) = self.spawn_after(name, crate::lifecycle::Prep::PreStart) {
                    self.dispatch(name, answer);
                }
            }
        }
    }
}

/// `<state_dir>/snapshots/<unit>/<stamp>/<index>`: one directory per snapshot, one entry
/// per `data` path, by position.
fn unit_dir(state_dir: &Path, unit: &str) -> PathBuf {
    state_dir.join("snapshots").join(unit)
}

/// Copies every `data` path into a new snapshot and keeps the newest `keep`.
pub(crate) fn take(
    state_dir: &Path,
    unit: &str,
    data: &[PathBuf],
    keep: usize,
) -> io::Result<PathBuf> {
    let dir = unit_dir(state_dir, unit);
    fs::create_dir_all(&dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".{stamp:032}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp)?;
    for (i, path) in data.iter().enumerate() {
        if fs::symlink_metadata(path).is_ok() {
            copy(path, &tmp.join(i.to_string()))?;
        }
    }
    // Complete only once every path is in: a half-taken snapshot is never restored.
    let done = dir.join(format!("{stamp:032}"));
    fs::rename(&tmp, &done)?;
    let mut all = list(&dir);
    all.sort();
    let excess = all.len().saturating_sub(keep.max(1));
    for old in &all[..excess] {
        let _ = fs::remove_dir_all(old);
    }
    Ok(done)
}

/// Puts the newest snapshot back over the `data` paths. A path the snapshot did not have
/// (it did not exist then) is removed.
pub(crate) fn restore_latest(
    state_dir: &Path,
    unit: &str,
    data: &[PathBuf],
) -> io::Result<PathBuf> {
    let mut all = list(&unit_dir(state_dir, unit));
    all.sort();
    let Some(latest) = all.pop() else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no snapshot taken yet",
        ));
    };
    for (i, path) in data.iter().enumerate() {
        remove(path)?;
        let saved = latest.join(i.to_string());
        if fs::symlink_metadata(&saved).is_ok() {
            copy(&saved, path)?;
        }
    }
    Ok(latest)
}

fn list(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn copy(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else if meta.is_dir() {
        fs::create_dir(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
        fs::set_permissions(to, meta.permissions())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_then_restore_puts_files_and_dirs_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("db");
        fs::create_dir(&data).unwrap();
        fs::write(data.join("state"), "good").unwrap();
        let single = dir.path().join("single.json");
        let paths = vec![data.clone(), single.clone()];
        let state = dir.path().join("state");
        for _ in 0..4 {
            take(&state, "web", &paths, 2).unwrap();
        }
        assert_eq!(list(&unit_dir(&state, "web")).len(), 2);
        fs::write(data.join("state"), "corrupt").unwrap();
        fs::write(data.join("junk"), "x").unwrap();
        fs::write(&single, "{}").unwrap();
        restore_latest(&state, "web", &paths).unwrap();
        assert_eq!(fs::read_to_string(data.join("state")).unwrap(), "good");
        assert!(!data.join("junk").exists());
        assert!(
            !single.exists(),
            "a path that did not exist at the snapshot is removed"
        );
        assert!(restore_latest(&state, "nobody", &paths).is_err());
    }
}
