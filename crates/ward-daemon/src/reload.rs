//! `ward reload` and SIGHUP: re-read the config and apply only what changed.

use std::collections::BTreeMap;

use tokio::sync::oneshot;
use ward_api::ReloadResponse;
use ward_core::config::{Instance, ServiceConfig};
use ward_core::machine::{Event, Intent, Params};
use ward_sys::config_file::ConfigFileError;

use crate::requests::{ApiError, Reply, json};
use crate::supervisor::Supervisor;

/// What a new config changes, unit by unit.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Diff {
    pub added: Vec<Instance>,
    pub removed: Vec<String>,
    pub changed: Vec<Instance>,
    /// Runs as before; the instance is the new config's, equal in every key that matters.
    pub unchanged: Vec<Instance>,
}

/// Compares the units running now with the units of the new config. Pure, so that what a
/// reload restarts can be tested without a daemon.
pub(crate) fn diff(old: &BTreeMap<String, &ServiceConfig>, new: Vec<Instance>) -> Diff {
    let mut d = Diff::default();
    for inst in new {
        match old.get(&inst.name) {
            None => d.added.push(inst),
            Some(old) if same_run(old, &inst.service) => d.unchanged.push(inst),
            Some(_) => d.changed.push(inst),
        }
    }
    let kept: Vec<&String> = d
        .unchanged
        .iter()
        .chain(&d.changed)
        .map(|i| &i.name)
        .collect();
    d.removed = old
        .keys()
        .filter(|name| !kept.contains(name))
        .cloned()
        .collect();
    d
}

/// Whether two configs run a unit the same way. `autostart` only matters at start-up and
/// `instances` only decides which units exist, so neither restarts a running unit.
fn same_run(a: &ServiceConfig, b: &ServiceConfig) -> bool {
    let strip = |c: &ServiceConfig| ServiceConfig {
        autostart: true,
        trust_path: false,
        instances: 1,
        // Read from the whole config as it is now; a change needs no restart.
        depends_on: Vec::new(),
        ..c.clone()
    };
    strip(a) == strip(b)
}

/// Who asked for a reload, and where its answer goes.
pub(crate) enum Asker {
    /// `POST /v1/reload`.
    Api {
        reply: oneshot::Sender<Reply>,
        who: String,
    },
    /// `SIGHUP`: nobody to answer; the outcome goes to the daemon's log and the journal.
    Signal,
}

/// The config file's text as a thread read it.
pub(crate) type ReadDone = Result<String, ConfigFileError>;

/// The reloads asked for. The file is read on a thread of its own, never on the
/// supervisor's task: a file system that hangs (NFS, FUSE) must not stop the supervising.
/// At most one read runs at a time; reloads asked for meanwhile get a read of their own,
/// together, once it ends, so each answer reflects the file as it was when it was asked.
#[derive(Default)]
pub(crate) struct Reloads {
    /// The askers of the read that runs, if one does.
    reading: Option<Vec<Asker>>,
    /// Asked while it runs.
    next: Vec<Asker>,
}

impl Supervisor {
    /// A reload asked for by `ward reload` or SIGHUP: the file is read off this task, and
    /// the reload applied when the read is done ([`Supervisor::reload_read`]).
    pub(crate) fn ask_reload(&mut self, asker: Asker) {
        if self.shutdown.is_some() {
            self.answer_reloads(vec![asker], Err(shutting_down()));
        } else if self.reloads.reading.is_some() {
            self.reloads.next.push(asker);
        } else {
            self.start_read(vec![asker]);
        }
    }

    fn start_read(&mut self, askers: Vec<Asker>) {
        let (path, tx) = (self.config_path.clone(), self.reload_tx.clone());
        let spawned = std::thread::Builder::new()
            .name("ward-config-read".into())
            // A thread, not tokio's blocking pool: a read that never returns must not keep
            // the runtime, and so the daemon, from exiting.
            .spawn(move || {
                let _ = tx.send(ward_sys::config_file::read(&path));
            });
        self.reloads.reading = Some(askers);
        if let Err(e) = spawned {
            self.reload_read(Err(ConfigFileError::Io {
                path: self.config_path.clone(),
                source: e,
            }));
        }
    }

    /// The config file was read (or could not be): the reload is applied, or refused, and
    /// every reload that waited for this read is answered with the same outcome. Then the
    /// reloads asked for meanwhile get their read.
    pub(crate) fn reload_read(&mut self, read: ReadDone) {
        let askers = self.reloads.reading.take().unwrap_or_default();
        let outcome = self.reload(read);
        self.answer_reloads(askers, outcome);
        // The old config and the new one's parse were both held until now.
        ward_sys::heap::release_free();
        let next = std::mem::take(&mut self.reloads.next);
        if !next.is_empty() {
            self.start_read(next);
        }
    }

    /// Journals the outcome for each asker and answers those that wait. A refusal is
    /// logged too, since SIGHUP has no one to answer.
    fn answer_reloads(&mut self, askers: Vec<Asker>, outcome: Result<ReloadResponse, ApiError>) {
        match &outcome {
            Err(e) => {
                tracing::error!(error = %e.body.error, "reload refused; the old config stays in force")
            }
            Ok(r) => {
                let changes: Vec<String> = [
                    ("added", &r.added),
                    ("changed", &r.changed),
                    ("removed", &r.removed),
                ]
                .into_iter()
                .filter(|(_, units)| !units.is_empty())
                .map(|(what, units)| format!("{what}: {}", units.join(", ")))
                .collect();
                self.audit
                    .note(ward_store::audit::Event::Reload { changes });
            }
        }
        let changed = outcome
            .as_ref()
            .map(|r| r.changed.clone())
            .unwrap_or_default();
        for asker in askers {
            let answer = match &outcome {
                Ok(r) => json(r),
                Err(e) => Err(ApiError::new(
                    e.status,
                    e.body.error.clone(),
                    e.body.hint.clone(),
                )),
            };
            match asker {
                Asker::Api { reply, who } => {
                    self.answer_recorded(reply, answer, &who, "reload", &changed);
                }
                Asker::Signal => self.journal.record(crate::journal::action(
                    "signal SIGHUP",
                    "reload",
                    &changed,
                    &answer,
                )),
            }
        }
    }

    /// Applies the config read from the file; on any problem nothing changes.
    fn reload(&mut self, read: ReadDone) -> Result<ReloadResponse, ApiError> {
        // Also when the shutdown began while the file was being read.
        if self.shutdown.is_some() {
            return Err(shutting_down());
        }
        let path = self.config_path.clone();
        let text = read.map_err(|e| {
            // A file that is missing or cannot be read is the machine's trouble (500); one
            // that is not a config ward reads is the operator's to fix (400).
            let status = if matches!(e, ConfigFileError::Io { .. }) {
                500
            } else {
                400
            };
            ApiError::new(
                status,
                e.to_string(),
                Some(format!(
                    "nothing changed; put the config back at {} as a regular file and reload again",
                    path.display()
                )),
            )
        })?;
        let config = ward_core::config::parse(&path, &text).map_err(|e| {
            ApiError::new(
                400,
                format!("the new config is invalid; nothing changed\n{e}"),
                Some(format!(
                    "fix it, check it with `ward -c {} check`, and reload again",
                    path.display()
                )),
            )
        })?;
        let config = crate::startup::finish_loading(config).map_err(|place| {
            ApiError::new(
                400,
                format!("the new config is invalid; nothing changed\n{place}"),
                Some(format!(
                    "fix it, check it with `ward -c {} check`, and reload again",
                    path.display()
                )),
            )
        })?;

        let refused = crate::programs::refused(&config);
        if !refused.is_empty() {
            return Err(ApiError::new(
                400,
                format!(
                    "the new config is refused; nothing changed\n{}",
                    crate::programs::describe(&refused)
                ),
                Some(format!(
                    "fix it, check it with `ward -c {} check`, and reload again",
                    path.display()
                )),
            ));
        }

        // Units of the old config stay until they are down: the peak is the two together,
        // each name counted once with the larger of its two needs.
        let mut peak: BTreeMap<String, Instance> = self
            .units
            .iter()
            .map(|(name, u)| (name.clone(), u.instance.clone()))
            .collect();
        for new in config.instances() {
            let keep_old = peak
                .get(&new.name)
                .is_some_and(|old| ward_core::budget::has_helper(&old.service));
            if !keep_old {
                peak.insert(new.name.clone(), new);
            }
        }
        let demand = ward_core::budget::Demand::of(peak.values());
        if let Err(available) = ward_sys::limits::ensure_nofile(demand.descriptors()) {
            let short = demand.shortfall(available);
            return Err(ApiError::new(
                409,
                format!("the new config does not fit; nothing changed: {short}"),
                Some("raise the daemon's hard limit on open files and restart it, or split the services over more than one state dir".into()),
            ));
        }

        let mut warnings = Vec::new();
        for key in self.config.supervisor.changed_keys(&config.supervisor) {
            warnings.push(format!(
                "[supervisor] {key} changed; it takes effect when the daemon restarts"
            ));
        }
        let supervisor = self.config.supervisor.clone();
        if config.hooks != self.config.hooks {
            // Queued events belong to the hooks as they were.
            self.event_hooks.clear_queues();
            self.events.want_hooks(!config.hooks.is_empty());
        }
        self.config = config;
        self.graph = ward_core::deps::Graph::of(&self.config.services);
        self.config.supervisor = supervisor;

        let current: BTreeMap<String, &ServiceConfig> = self
            .units
            .iter()
            .filter(|(_, u)| !u.removing)
            .map(|(n, u)| (n.clone(), &*u.instance.service))
            .collect();
        let d = diff(&current, self.config.instances());
        let mut response = ReloadResponse {
            removed: d.removed.clone(),
            unchanged: d.unchanged.iter().map(|i| i.name.clone()).collect(),
            warnings,
            ..Default::default()
        };
        for name in &d.removed {
            if let Some(u) = self.units.get_mut(name) {
                u.removing = true;
                self.backlog.held.removals = true;
            }
            self.dispatch(name, Event::Stop);
        }
        // An unchanged unit takes the new config's instance too: keys that restart nothing
        // (`autostart`) are current, and the daemon keeps one copy of each service.
        for inst in d.unchanged {
            if let Some(u) = self.units.get_mut(&inst.name) {
                u.instance = inst;
            }
        }
        for inst in d.changed {
            let name = inst.name.clone();
            let Some(u) = self.units.get_mut(&name) else {
                continue;
            };
            u.machine.set_params(Params::from(&*inst.service));
            if u.set_up {
                match self.controllers.unit(&name, crate::setup::wants(&inst)) {
                    Ok(more) => u.controllers.absorb(more),
                    Err(e) => {
                        tracing::warn!(unit = %name, error = %e, "no resource controllers for this service")
                    }
                }
            }
            crate::setup::apply_limits(&name, &inst, &self.controllers, &u.controllers);
            u.instance = inst;
            let paused = u.schedule.as_ref().is_some_and(|a| a.paused);
            let scheduled = u.instance.service.schedule.is_some();
            u.schedule = None;
            if scheduled {
                // A task on a schedule is not restarted by a change: its next run takes
                // the new config.
                self.arm_schedule(&name, paused);
            } else if u.machine.intent() == Intent::Run {
                self.dispatch(&name, Event::Restart);
            }
            response.changed.push(name);
        }
        for inst in d.added {
            let name = inst.name.clone();
            let autostart = inst.service.autostart;
            // A unit being removed under the same name goes first; it comes back fresh.
            if self.units.get(&name).is_some_and(|u| u.removing) {
                response.warnings.push(format!(
                    "{name} is still stopping; reload again to add it back"
                ));
                continue;
            }
            self.add_unit(inst);
            if let Some(Err(e)) = self.units.get(&name).map(|u| &u.output) {
                response
                    .warnings
                    .push(format!("{name}: {e}; each start tries again"));
            }
            if !self.arm_schedule(&name, !autostart) && autostart {
                self.request_start(&name);
            }
            response.added.push(name);
        }
        tracing::info!(
            added = response.added.len(),
            removed = response.removed.len(),
            changed = response.changed.len(),
            unchanged = response.unchanged.len(),
            "config reloaded"
        );
        Ok(response)
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(409, "ward is shutting down", None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn instances(text: &str) -> Vec<Instance> {
        ward_core::config::parse(Path::new("/x/ward.toml"), text)
            .expect("valid")
            .instances()
    }

    fn names(v: &[Instance]) -> Vec<&str> {
        v.iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn only_what_changed_is_touched() {
        let before = instances(
            "[services.a]\ncommand = \"sleep 1\"\n[services.b]\ncommand = \"sleep 2\"\n\
             [services.c]\ncommand = \"sleep 3\"\n[services.w]\ncommand = \"w\"\ninstances = 3\n",
        );
        let old: BTreeMap<String, &ServiceConfig> = before
            .iter()
            .map(|i| (i.name.clone(), &*i.service))
            .collect();
        let after = instances(
            "[services.a]\ncommand = \"sleep 1\"\nautostart = false\n\
             [services.b]\ncommand = \"sleep 20\"\n[services.d]\ncommand = \"sleep 4\"\n\
             [services.w]\ncommand = \"w\"\ninstances = 2\n",
        );
        let d = diff(&old, after);
        assert_eq!(names(&d.added), ["d"]);
        assert_eq!(names(&d.changed), ["b"]);
        assert_eq!(names(&d.unchanged), ["a", "w.0", "w.1"]);
        // The unchanged unit `a` carries the new config: its autostart is now false.
        assert!(!d.unchanged[0].service.autostart);
        assert_eq!(d.removed, ["c", "w.2"]);
    }
}
