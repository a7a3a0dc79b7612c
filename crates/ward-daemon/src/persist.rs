//! What a daemon leaves for the next one: per unit, the operator's intent and the identity
//! of the main process, in `<runtime_dir>/units/NAME.json`.
//!
//! Written whenever either changes, by rename over the old file, so a daemon killed at any
//! instant leaves the previous or the new record, never a torn one. No fsync: the records
//! must survive the daemon's death, which leaves the page cache intact; after a power cut
//! no process is left to adopt anyway.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ward_api::UnitIntent;

/// One unit's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UnitRecord {
    /// `run` or `stop`: what the operator (or autostart) last asked for.
    pub intent: UnitIntent,
    /// The main process, while one runs.
    pub main: Option<MainRecord>,
    /// A task that completed: the next daemon keeps it completed instead of running it
    /// again (what `remain_after_exit` and a schedule's task rely on).
    /// Written only when true, so the records of everything else keep their format.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completed: bool,
}

/// A main process, named for certain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MainRecord {
    pub pid: u32,
    pub start_time: u64,
    pub boot_id: String,
    /// When it was spawned, ms since the Unix epoch.
    pub started_ms: u64,
}

fn dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("units")
}

fn file(runtime_dir: &Path, unit: &str) -> PathBuf {
    dir(runtime_dir).join(format!("{unit}.json"))
}

/// Writes a unit's record atomically.
pub(crate) fn save(runtime_dir: &Path, unit: &str, record: &UnitRecord) -> io::Result<()> {
    let path = file(runtime_dir, unit);
    let tmp = dir(runtime_dir).join(format!(".{unit}.json.tmp"));
    let bytes = serde_json::to_vec(record).map_err(io::Error::other)?;
    fs::write(&tmp, &bytes)
        .or_else(|e| made_again(e, &dir(runtime_dir), || fs::write(&tmp, &bytes)))?;
    fs::rename(&tmp, &path)
}

/// After `e`: when it says a directory on the way is missing (the first use, or someone
/// deleted it), makes `dir` and tries `again`. Made before every use instead, a start of
/// 500 units paid two more system calls for each record and each unit's FIFOs.
pub(crate) fn made_again<T>(
    e: io::Error,
    dir: &Path,
    again: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    if e.kind() != io::ErrorKind::NotFound {
        return Err(e);
    }
    fs::create_dir_all(dir)?;
    again()
}

/// The record a previous daemon left, if any. An unreadable record is reported and
/// treated as none: the unit then starts as its config says.
pub(crate) fn load(runtime_dir: &Path, unit: &str) -> Option<UnitRecord> {
    let path = file(runtime_dir, unit);
    let bytes = fs::read(&path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable unit record");
            None
        }
    }
}

/// The unit a directory entry of `units/` is the record of, if it is one: `NAME.json`, not
/// a hidden file (a record being written is `.NAME.json.tmp`).
fn unit_of(entry: &fs::DirEntry) -> Option<String> {
    let name = entry
        .file_name()
        .to_str()?
        .strip_suffix(".json")?
        .to_string();
    (!name.starts_with('.')).then_some(name)
}

/// The units that have a record file, from one listing of the directory: a daemon with
/// thousands of units that never ran here looks for each record without a failed open
/// apiece. `None` when the directory cannot be listed (absent, or not readable): each
/// record is then looked for on its own, as [`load`] does.
pub(crate) fn recorded(runtime_dir: &Path) -> Option<std::collections::HashSet<String>> {
    let entries = fs::read_dir(dir(runtime_dir)).ok()?;
    Some(entries.flatten().filter_map(|e| unit_of(&e)).collect())
}

/// Every record there is, by unit name (files that are not records are skipped).
pub(crate) fn all(runtime_dir: &Path) -> Vec<(String, UnitRecord)> {
    let Ok(entries) = fs::read_dir(dir(runtime_dir)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = unit_of(&e)?;
            let record = serde_json::from_slice(&fs::read(e.path()).ok()?).ok()?;
            Some((name, record))
        })
        .collect()
}

/// Forgets a unit that left the config.
pub(crate) fn remove(runtime_dir: &Path, unit: &str) {
    let _ = fs::remove_file(file(runtime_dir, unit));
}

impl crate::supervisor::Supervisor {
    /// Writes the unit's record if its intent or main process changed. A shutdown's stops
    /// are not the operator's: the intent recorded before the shutdown stays.
    pub(crate) fn persist(&mut self, name: &str) {
        // A spawn in flight is recorded once it is answered, with its PID.
        if self.launch_of(name).is_some() {
            return;
        }
        self.write_record(name, false);
    }

    /// Writes the unit's record; `again` writes it even when nothing changed (its file
    /// went away), with the same rules for what a shutdown may record.
    pub(crate) fn write_record(&mut self, name: &str, again: bool) {
        let shutting_down = self.shutdown.is_some();
        let runtime_dir = self.config.supervisor.runtime_dir.clone();
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let mut intent = unit.machine.intent();
        if shutting_down {
            match unit.persisted {
                Some((before, _, _)) => intent = before,
                // Never started and never stopped by anyone: nothing to remember.
                None if unit.main.is_none() => return,
                None => {}
            }
        }
        let completed = unit.machine.state() == ward_core::machine::State::Completed;
        let now = (intent, unit.main.as_ref().map(|m| m.pidfd.pid()), completed);
        if unit.persisted == Some(now) && !again {
            return;
        }
        let record = UnitRecord {
            intent: crate::wire::intent(intent),
            main: unit.main.as_ref().map(|m| MainRecord {
                pid: m.identity.pid,
                start_time: m.identity.start_time,
                boot_id: m.identity.boot_id.to_string(),
                started_ms: crate::supervisor::Supervisor::epoch_ms(m.started),
            }),
            completed,
        };
        match save(&runtime_dir, name, &record) {
            Ok(()) => unit.persisted = Some(now),
            Err(e) => tracing::warn!(unit = %name, error = %e, "cannot write the unit's record"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "web"), None);
        let rec = UnitRecord {
            intent: UnitIntent::Run,
            main: Some(MainRecord {
                pid: 7,
                start_time: 9,
                boot_id: "b".into(),
                started_ms: 1,
            }),
            completed: false,
        };
        save(dir.path(), "web", &rec).unwrap();
        assert_eq!(load(dir.path(), "web"), Some(rec));
        fs::write(dir.path().join("units/web.json"), "{").unwrap();
        assert_eq!(load(dir.path(), "web"), None);
        remove(dir.path(), "web");
        assert!(!dir.path().join("units/web.json").exists());
    }

    /// One listing names every unit with a record, dotted names included; a runtime dir
    /// without records yet cannot be listed, and then every record is looked for.
    #[test]
    fn recorded_lists_the_units_with_a_record() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(recorded(dir.path()), None);
        let rec = UnitRecord {
            intent: UnitIntent::Stop,
            main: None,
            completed: false,
        };
        save(dir.path(), "web.0", &rec).unwrap();
        save(dir.path(), "db", &rec).unwrap();
        fs::write(dir.path().join("units/notes.txt"), "not a record").unwrap();
        let listed = recorded(dir.path()).unwrap();
        let mut names: Vec<_> = listed.iter().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["db", "web.0"]);
    }

    /// The file keeps its format: records written when the intent was a plain string
    /// still load, and a record is written as they were.
    #[test]
    fn records_keep_their_json() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("units")).unwrap();
        let old = r#"{"intent":"stop","main":{"pid":41213,"start_time":98765,"boot_id":"6f2c","started_ms":1764163200412}}"#;
        fs::write(dir.path().join("units/web.json"), old).unwrap();
        let rec = load(dir.path(), "web").expect("an old record loads");
        assert_eq!(rec.intent, UnitIntent::Stop);
        save(dir.path(), "web", &rec).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("units/web.json")).unwrap(),
            old
        );
        let none = UnitRecord {
            intent: UnitIntent::Run,
            main: None,
            completed: false,
        };
        save(dir.path(), "db", &none).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("units/db.json")).unwrap(),
            r#"{"intent":"run","main":null}"#
        );
        let done = UnitRecord {
            completed: true,
            ..none
        };
        save(dir.path(), "migrate", &done).unwrap();
        assert_eq!(load(dir.path(), "migrate").map(|r| r.completed), Some(true));
    }
}
