//! Starting a unit's main process: plumbing lent from the unit, the spec from its config,
//! the fork, then the bookkeeping of a new run (identity, PID file, journal, baselines).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ward_core::machine::{Event, SpawnFailure};

use crate::contain::Containment;
use crate::launch::{self, Plumbing};
use crate::logs;
use crate::supervisor::Supervisor;
use crate::unit::MainProcess;
use crate::verdicts::{COUNTERS_REUSE, OomBaseline};

/// A spawn between its clone and its answer: what was prepared for the bookkeeping of the
/// new run, and the child, which may still be on its way to exec.
pub(crate) struct PendingSpawn {
    child: Child,
    spawn_record: ward_store::audit::Event,
    baseline: OomBaseline,
    started: SystemTime,
}

/// The child of a spawn: known, or launched and not yet known to have exec'd.
enum Child {
    Known(Result<ward_sys::spawn::Spawned, ward_sys::spawn::SpawnError>),
    Launched(Box<ward_sys::spawn::Launched>),
}

impl Supervisor {
    /// Starts a unit's main process and says how it went, as the machine's next event.
    pub(crate) fn spawn(&mut self, name: &str) -> Event {
        match self.spawn_begin(name, false) {
            Ok(pending) => self.spawn_end(name, pending),
            Err(answer) => answer,
        }
    }

    /// Everything of a spawn up to the clone. With `detached`, the clone returns while the
    /// child may still be on its way to exec (`ward_sys::spawn::launch`), so that the loop
    /// prepares the next unit's meanwhile; `spawn_end` answers once it is known. `Err` is
    /// the answer of a spawn that failed before any clone.
    pub(crate) fn spawn_begin(
        &mut self,
        name: &str,
        detached: bool,
    ) -> Result<PendingSpawn, Event> {
        let notify = self.notify_path();
        self.ensure_set_up(name);
        if let Err(why) = self.set_up_output(name) {
            let failure = SpawnFailure::Other(why);
            if let Some(unit) = self.units.get(name) {
                logs::note(&self.logs.sink(), &unit.log, &failure.to_string());
            }
            self.judge_exec_failure(name, &failure);
            return Err(Event::SpawnFailed(failure));
        }
        let Some(unit) = self.units.get_mut(name) else {
            return Err(Event::SpawnFailed(SpawnFailure::Other(
                "unit is gone".into(),
            )));
        };
        unit.run_controllers = unit
            .controllers
            .for_run(crate::setup::wants(&unit.instance));
        let plumbing = (|| {
            let (stdout, stderr) = unit.output_ends(&self.config.supervisor.runtime_dir)?;
            Ok::<_, std::io::Error>(Plumbing {
                stdout,
                stderr,
                cgroups: {
                    let (mut files, joined) = match &unit.containment {
                        Containment::Cgroup(cg) => (vec![cg.open_for_join()?], Some(cg.path())),
                        Containment::Tree => (Vec::new(), None),
                    };
                    files.extend(unit.run_controllers.join_files(joined)?);
                    files
                },
            })
        })();
        // A new run starts with an empty /tmp of its own, under the config it runs now.
        unit.private_tmp = unit
            .instance
            .service
            .private_tmp
            .then(|| crate::private_tmp::dir(&self.config.supervisor.runtime_dir, name));
        let private_tmp = match &unit.private_tmp {
            Some(dir) => crate::private_tmp::fresh(dir)
                .map(|()| Some(dir.clone()))
                .map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot make its private /tmp {}: {e}", dir.display()),
                    )
                }),
            None => Ok(None),
        };
        let spec = plumbing.and_then(|p| {
            launch::spec(name, &unit.instance, p, self.nofile, &notify, private_tmp?)
        });
        let sink = self.logs.sink();
        let spec = match spec {
            Ok(spec) => spec,
            Err(e) => {
                let failure = SpawnFailure::Other(format!("cannot prepare the process: {e}"));
                logs::note(&sink, &unit.log, &failure.to_string());
                self.judge_exec_failure(name, &failure);
                return Err(Event::SpawnFailed(failure));
            }
        };
        // The values of its secrets are masked in what it writes to its log, its STATUS=
        // text and the trail, from this run on.
        let secrets = crate::launch::secrets(&spec.env, &unit.instance);
        // What the audit trail keeps of it: argv, user, directory and the names of the
        // variables, never their values.
        let spawn_record = ward_store::audit::Event::Spawn {
            unit: name.to_string(),
            argv: spec
                .argv
                .iter()
                .map(|a| {
                    secrets
                        .as_ref()
                        .map_or(a.clone(), |r| r.text(a).into_owned())
                })
                .collect(),
            uid: spec
                .credentials
                .as_ref()
                .and_then(|c| c.uid)
                .unwrap_or_else(ward_sys::own_uid),
            cwd: spec.cwd.display().to_string(),
            env: spec.env.iter().map(|(k, _)| k.clone()).collect(),
        };
        // Counters read before the fork: the new process may hit a limit at once.
        let baseline = match unit.counters_at_exit.take().map(|b| *b) {
            // A run that ended otherwise than by SIGKILL left no machine count; one that
            // did needs no other reading.
            Some((at, counters)) if at.elapsed() < COUNTERS_REUSE => OomBaseline {
                machine: counters.machine.or_else(|| self.machine_ooms.for_start()),
                ..counters
            },
            _ => OomBaseline::read(
                &unit.run_controllers,
                &mut self.kmsg,
                self.machine_ooms.for_start(),
            ),
        };
        unit.log.set_secrets(secrets);
        // When it started: taken before the spawn, not after the audit record and the log
        // note that follow it, which on a busy machine take milliseconds the process has
        // already run (a dependent's start measured against it then looks early).
        let started = SystemTime::now();
        let child = if detached {
            match ward_sys::spawn::launch(spec) {
                Ok(launched) => Child::Launched(Box::new(launched)),
                Err(e) => Child::Known(Err(e)),
            }
        } else {
            Child::Known(ward_sys::spawn::spawn(spec))
        };
        Ok(PendingSpawn {
            child,
            spawn_record,
            baseline,
            started,
        })
    }

    /// The answer of a spawn `spawn_begin` made, once its child has exec'd or failed to,
    /// and the bookkeeping of the new run.
    pub(crate) fn spawn_end(&mut self, name: &str, pending: PendingSpawn) -> Event {
        let PendingSpawn {
            child,
            spawn_record,
            baseline,
            started,
        } = pending;
        let result = match child {
            Child::Known(result) => result,
            Child::Launched(launched) => launched.finish(),
        };
        let sink = self.logs.sink();
        let Some(unit) = self.units.get_mut(name) else {
            if let Ok(spawned) = result {
                // Nothing is left to supervise it: it goes, and the reaper collects it.
                let _ = spawned.pidfd.send_signal(ward_core::Signal::KILL);
            }
            return Event::SpawnFailed(SpawnFailure::Other("unit is gone".into()));
        };
        match result {
            Ok(spawned) => {
                let pid = spawned.pidfd.pid();
                self.audit.note(spawn_record);
                self.by_pid.insert(pid, name.to_string());
                // A look at `/proc` from before the spawn would not know the new process.
                self.procs.forget();
                logs::note(&sink, &unit.log, &format!("started pid {pid}"));
                unit.last_started = Some(started);
                unit.stop_escalated = false;
                unit.oom_baseline = baseline;
                // A new run's samples start afresh, its peak too.
                unit.usage = None;
                if let Some(s) = unit.seldom_held() {
                    s.operator_signal = None;
                    s.last_cpu = None;
                }
                // Read while the child cannot have been reaped: it is ours, and only this
                // thread reaps.
                let identity =
                    ward_sys::ProcessIdentity::of_spawned(&spawned).unwrap_or_else(|_| {
                        ward_sys::ProcessIdentity {
                            pid,
                            start_time: 0,
                            boot_id: "".into(),
                        }
                    });
                if let Some(path) = unit.instance.pidfile() {
                    unit.pidfile =
                        write_pidfile(&path, pid, unit.name(), &unit.instance.service.command)
                            .map_err(|e| {
                                tracing::warn!(unit = %name, error = %e, "no pid file");
                                logs::note(&sink, &unit.log, &format!("no pid file: {e}"));
                            })
                            .ok()
                            .map(Box::new);
                }
                self.journal.record(ward_store::Record::RunStarted {
                    unit: name.to_string(),
                    pid,
                    start_time: identity.start_time,
                    boot_id: identity.boot_id.to_string(),
                    at_ms: ward_store::now_ms(),
                    adopted: false,
                });
                unit.main = Some(MainProcess {
                    pidfd: spawned.pidfd,
                    identity,
                    started,
                });
                self.run_began(name, false);
                self.post_start(name, pid);
                Event::Spawned { pid }
            }
            Err(e) => {
                let failure = launch::failure(&e, &unit.instance);
                tracing::warn!(unit = %name, error = %failure, "spawn failed");
                logs::note(&sink, &unit.log, &failure.to_string());
                self.judge_exec_failure(name, &failure);
                Event::SpawnFailed(failure)
            }
        }
    }
}

/// Why a PID file could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PidfileError {
    /// Its directory was missing and could not be made.
    #[error("cannot create {dir}: {source}")]
    Dir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The new process could not be identified (it ended at once, say).
    #[error("cannot read the identity of pid {pid}: {source}")]
    Identity {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    /// The file itself.
    #[error(transparent)]
    Write(#[from] ward_sys::pidfile::PidFileError),
}

/// Writes the PID file of a new main process (its directory is created if missing).
pub(crate) fn write_pidfile(
    path: &Path,
    pid: u32,
    unit: &str,
    command: &[String],
) -> Result<ward_sys::pidfile::HeldPidFile, PidfileError> {
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).map_err(|source| PidfileError::Dir {
            dir: dir.to_path_buf(),
            source,
        })?;
        // Other tools must be able to reach the file: not the daemon's private umask.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    let record = ward_sys::pidfile::PidRecord::of(pid, unit, command)
        .map_err(|source| PidfileError::Identity { pid, source })?;
    Ok(ward_sys::pidfile::HeldPidFile::create(path, &record)?)
}
