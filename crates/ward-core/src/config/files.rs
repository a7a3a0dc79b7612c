//! The files ward writes for the services (each unit's log and PID file), checked against
//! the files ward keeps for itself and against each other: ward replaces a PID file and
//! appends to a log, so two of them on one path would destroy or mix the other.
//!
//! Paths are compared as written, after the config's directory has been joined and `.`
//! and `..` have been resolved by their text; symbolic links are not followed (that is
//! I/O). What this misses, the daemon still refuses when it writes: it replaces a file only
//! if that file is a PID file (see `ward_sys::pidfile`).

use super::fields::{Ctx, item_at, key_at};
use super::model::{Instance, Services};
use super::settings::SupervisorConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use toml_edit::TableLike;

/// Checks every unit's PID file and log against ward's own files and against each other.
/// `tables` is the `[services]` table, for the places of the values; services are visited
/// in file order, so a path shared by two services is reported at the later one.
pub(crate) fn check(
    ctx: &mut Ctx<'_>,
    config_path: &Path,
    sup: &SupervisorConfig,
    tables: &dyn TableLike,
    services: &Services,
) {
    let units = units_in_file_order(tables, services);
    let unit_names: BTreeSet<&str> = units.iter().map(|u| u.name.as_str()).collect();
    let logs = Logs {
        dir: clean(&sup.log_dir),
        keep: sup.log_keep,
        units: &unit_names,
    };
    let mut own: Vec<(PathBuf, String)> = sup
        .own_files()
        .into_iter()
        .map(|(path, what)| (clean(&path), what.to_string()))
        .collect();
    own.push((clean(config_path), "this config file".into()));

    // A log of a unit on one of ward's own files (`[services.ward]` with `log_dir` set to
    // the state dir writes into the daemon's own log), reported at the service's name.
    let mut reported = BTreeSet::new();
    for (path, what) in &own {
        let Some((unit, rotated)) = logs.owner(path) else {
            continue;
        };
        let Some(u) = units.iter().find(|u| u.name == unit) else {
            continue;
        };
        if !reported.insert(u.service.name.clone()) {
            continue;
        }
        let at = tables
            .get_key_value(&u.service.name)
            .map_or(0, |(key, _)| key_at(key));
        let log = if rotated { "a rotated log" } else { "its log" };
        ctx.error(
            at,
            format!(
                "[services.{}] would write {log} to {}, which is {what}",
                u.service.name,
                path.display()
            ),
            Some(format!(
                "the log of a unit is `log_dir`/NAME.log: rename the service, or set \
                 `log_dir` in [supervisor] to a directory of its own (the default is {})",
                clean(&sup.state_dir.join("logs")).display()
            )),
        );
    }

    let state_dir = clean(&sup.state_dir);
    let runtime_dir = clean(&sup.runtime_dir);
    let mut taken: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut reported = BTreeSet::new();
    for unit in &units {
        let Some(pidfile) = unit.pidfile() else {
            continue;
        };
        let path = clean(&pidfile);
        let service = &unit.service.name;
        let problem = if path.starts_with(&state_dir) {
            Some((
                format!(
                    "is inside `state_dir` ({}), where ward keeps its own files",
                    state_dir.display()
                ),
                "the state directory holds the daemon's lock, journal and records, which a \
                 pid file would replace",
            ))
        } else if path.starts_with(&runtime_dir) {
            Some((
                format!(
                    "is inside `runtime_dir` ({}), where ward keeps its own files",
                    runtime_dir.display()
                ),
                "the runtime directory holds the services' output FIFOs, their records and \
                 the notify socket, which a pid file would replace",
            ))
        } else if let Some((_, what)) = own.iter().find(|(p, _)| *p == path) {
            Some((
                format!("is {what}"),
                "ward writes a pid file over the file at its path",
            ))
        } else if let Some((owner, rotated)) = logs.owner(&path) {
            let log = if rotated { "a rotated log" } else { "the log" };
            Some((
                format!("is {log} of `{owner}`"),
                "ward writes a pid file over the file at its path",
            ))
        } else if let Some(other) = taken.get(&path) {
            Some((
                format!("is also the pid file of `{other}`"),
                "each unit needs a pid file of its own (with `instances`, ward adds the \
                 index: STEM.N.EXT)",
            ))
        } else {
            taken.insert(path.clone(), unit.name.clone());
            None
        };
        let Some((what, why)) = problem else {
            continue;
        };
        // One report per service, not one per instance.
        if !reported.insert(service.clone()) {
            continue;
        }
        let at = tables
            .get(service)
            .and_then(|t| t.get("pidfile"))
            .map_or(0, item_at);
        ctx.error(
            at,
            format!("`pidfile` {} {what}", path.display()),
            Some(format!(
                "{why}; choose a path of its own, such as \"run/{service}.pid\""
            )),
        );
    }
}

/// The units of every service, services in the order of the file.
fn units_in_file_order(tables: &dyn TableLike, services: &Services) -> Vec<Instance> {
    let mut out = Vec::new();
    for (name, _) in tables.iter() {
        let Some(svc) = services.get(name) else {
            continue;
        };
        for index in 0..svc.instances {
            out.push(Instance {
                name: if svc.instances == 1 {
                    svc.name.clone()
                } else {
                    format!("{}.{index}", svc.name)
                },
                index,
                service: Arc::clone(svc),
            });
        }
    }
    out
}

/// The log files of the units, recognised by name rather than listed (a thousand units
/// with a thousand rotated files each would be a million paths).
struct Logs<'a> {
    dir: PathBuf,
    keep: u32,
    units: &'a BTreeSet<&'a str>,
}

impl Logs<'_> {
    /// The unit whose log (or rotated log: `true`) `path` is, if any.
    fn owner(&self, path: &Path) -> Option<(String, bool)> {
        if path.parent()? != self.dir {
            return None;
        }
        let name = path.file_name()?.to_str()?;
        let (unit, rotated) = match name.strip_suffix(".log") {
            Some(unit) => (unit, false),
            None => {
                let (rest, digits) = name.rsplit_once('.')?;
                let n: u32 = digits.parse().ok()?;
                // `NAME.log.1` … `NAME.log.<log_keep>`, written without leading zeros.
                if n == 0 || n > self.keep || n.to_string() != digits {
                    return None;
                }
                (rest.strip_suffix(".log")?, true)
            }
        };
        self.units
            .contains(unit)
            .then(|| (unit.to_string(), rotated))
    }
}

/// `path` with `.` dropped and `..` taken off the component before it, by text alone.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_resolves_dots_by_text() {
        for (path, want) in [
            ("./st/journal.db", "st/journal.db"),
            ("a/./b/../c", "a/c"),
            ("/x/../../y", "/y"),
            ("../a/../../b", "../../b"),
            (".", ""),
            ("/", "/"),
        ] {
            assert_eq!(clean(Path::new(path)), Path::new(want), "{path}");
        }
    }

    #[test]
    fn logs_are_recognised_by_name() {
        let units = BTreeSet::from(["web", "web.0"]);
        let logs = Logs {
            dir: PathBuf::from("/l"),
            keep: 3,
            units: &units,
        };
        let owner = |p: &str| logs.owner(Path::new(p));
        assert_eq!(owner("/l/web.log"), Some(("web".into(), false)));
        assert_eq!(owner("/l/web.0.log"), Some(("web.0".into(), false)));
        assert_eq!(owner("/l/web.0.log.3"), Some(("web.0".into(), true)));
        assert_eq!(owner("/l/web.log.4"), None, "beyond log_keep");
        assert_eq!(owner("/l/web.log.0"), None);
        assert_eq!(owner("/l/web.log.01"), None);
        assert_eq!(owner("/l/db.log"), None);
        assert_eq!(owner("/m/web.log"), None);
    }
}
