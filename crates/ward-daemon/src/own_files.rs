//! The daemon's own files, watched while it runs and made again when they go away.
//!
//! `rm -rf` of the state dir under a running daemon used to leave it running but
//! unreachable, with no lock: a second `ward up` started a second daemon, and every
//! service ran twice. Now the daemon notices at once (inotify, no cost while nothing
//! happens) and puts back what it needs to stay the one daemon of its state dir, and
//! reachable: the directories, its PID file and lock, the control and notify sockets,
//! the journal (written anew from what the open connection still holds), the unit
//! records, the log files and the units' FIFOs. What it did goes to its log and its
//! journal.
//!
//! One thing cannot be put back: processes that were running keep writing to the FIFOs
//! that were deleted. This daemon still reads those, so nothing is lost while it runs;
//! a daemon started after it can no longer reach their output, and their next run uses
//! the new FIFOs.

use std::ffi::OsStr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use ward_sys::watch::{FileWatch, Gone};

use tokio::net::UnixListener;

use crate::supervisor::Supervisor;

/// The paths to watch: each directory, with the names in it that the daemon owns.
pub(crate) fn watched(sup: &ward_core::config::SupervisorConfig) -> Vec<(PathBuf, Vec<String>)> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut out: Vec<(PathBuf, Vec<String>)> = vec![
        (
            sup.state_dir.clone(),
            vec!["ward.pid".into(), "journal.db".into()],
        ),
        (sup.runtime_dir.clone(), vec!["notify.sock".into()]),
        (sup.log_dir.clone(), Vec::new()),
    ];
    if let Some(dir) = sup.socket.parent() {
        out.push((dir.to_path_buf(), vec![name(&sup.socket)]));
    }
    out
}

/// Sets the watches; a directory that cannot be watched is logged and left out.
pub(crate) fn watch(watch: &mut FileWatch, sup: &ward_core::config::SupervisorConfig) {
    watch.clear();
    for (dir, names) in watched(sup) {
        let names: Vec<&OsStr> = names.iter().map(OsStr::new).collect();
        if let Err(e) = watch.watch(&dir, &names) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch the daemon's own files");
        }
    }
}

/// How long after the first sign the files are made again: long enough for an `rm -rf`
/// in progress to finish, short enough that commands find the daemon again at once.
pub(crate) const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

impl Supervisor {
    /// The time to make the daemon's own files again has come: do it, bind the sockets
    /// that went again, report, watch the new directories, and look once more.
    pub(crate) fn repair_own_files(
        &mut self,
        serving: &mut crate::serving::Serving,
        own: Option<&mut FileWatch>,
    ) {
        let mut restored = self.restore_own_files();
        if restored.socket {
            match crate::startup::bind(&self.config.supervisor.socket, self.open_to).and_then(|l| {
                let _api = self.api.enter();
                UnixListener::from_std(l).map_err(|source| crate::StartError::Socket {
                    path: self.config.supervisor.socket.clone(),
                    source,
                })
            }) {
                Ok(listener) => {
                    serving.bound = crate::serving::identity(&self.config.supervisor.socket);
                    serving.server.abort();
                    serving.server = self.api.spawn(crate::api::serve(
                        listener,
                        serving.tx.clone(),
                        serving.connections.clone(),
                        self.audit.clone(),
                        self.open_to,
                        self.events.clone(),
                    ));
                }
                Err(e) => restored.failed.push(e.to_string()),
            }
        }
        if restored.notify {
            match ward_sys::notify::NotifySocket::bind(&self.notify_path()) {
                Ok(socket) => {
                    tokio::spawn(crate::notify::listen(socket, serving.notify_tx.clone()));
                }
                Err(e) => restored.failed.push(format!("the notify socket: {e}")),
            }
        }
        self.report_restored(&restored);
        if let Some(w) = own {
            crate::own_files::watch(w, &self.config.supervisor);
        }
        // Anything deleted before the new watches were set is seen now.
        if self.own_files_missing() {
            self.own_files_due = Some(std::time::Instant::now() + SETTLE);
        }
    }

    /// The watch saw something go: act on it once the deletion has settled.
    pub(crate) fn own_files_gone(&mut self, gone: Vec<Gone>) {
        self.gone.extend(gone);
        if self.own_files_due.is_none() {
            self.own_files_due = Some(std::time::Instant::now() + SETTLE);
        }
    }

    /// Whether any of the daemon's own files is missing now.
    pub(crate) fn own_files_missing(&self) -> bool {
        let sup = &self.config.supervisor;
        let mut paths = vec![
            sup.state_dir.join("ward.pid"),
            self.journal.path().to_path_buf(),
            sup.socket.clone(),
            crate::notify::socket_path(&sup.runtime_dir),
            sup.log_dir.clone(),
        ];
        for unit in self.units.values() {
            paths.extend(unit.fifos(&sup.runtime_dir));
        }
        paths.iter().any(|p| !p.exists())
    }

    /// Some of the daemon's own files went away: make again what is missing, say what in
    /// the log and the journal. Returns what was made again, for the caller to rebind the
    /// sockets it owns.
    pub(crate) fn restore_own_files(&mut self) -> Restored {
        self.own_files_due = None;
        let gone = std::mem::take(&mut self.gone);
        let sup = self.config.supervisor.clone();
        let mut restored = Restored::default();
        for dir in [&sup.state_dir, &sup.runtime_dir, &sup.log_dir] {
            if !dir.is_dir() {
                match std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                {
                    Ok(()) => restored.made.push(dir.display().to_string()),
                    Err(e) => restored.failed.push(format!("{}: {e}", dir.display())),
                }
            }
        }
        if let Some(dir) = sup.socket.parent()
            && !dir.is_dir()
        {
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir);
        }
        // The lock: a new PID file, held like the first.
        let pid_path = sup.state_dir.join("ward.pid");
        if !pid_path.exists() {
            let argv: Vec<String> = std::env::args().collect();
            let taken = ward_sys::pidfile::PidRecord::of(self.me, "ward", &argv)
                .map_err(|e| e.to_string())
                .and_then(|me| {
                    ward_sys::pidfile::HeldPidFile::create(&pid_path, &me)
                        .map_err(|e| e.to_string())
                });
            match taken {
                Ok(lock) => {
                    self.relocked = Some(lock);
                    restored.made.push(pid_path.display().to_string());
                }
                Err(e) => restored.failed.push(format!("{}: {e}", pid_path.display())),
            }
        }
        let journal = self.journal.path().to_path_buf();
        if !journal.exists() {
            match self.journal.recreate() {
                Ok(()) => restored
                    .made
                    .push(format!("{} (history kept)", journal.display())),
                Err(e) => restored.failed.push(format!("{}: {e}", journal.display())),
            }
        }
        if !self.audit.path().exists() {
            match self.audit.reopen() {
                Ok(()) => restored.made.push(format!(
                    "{} (the chain goes on from its last record)",
                    self.audit.path().display()
                )),
                Err(e) => restored
                    .failed
                    .push(format!("{}: {e}", self.audit.path().display())),
            }
        }
        restored.socket = !sup.socket.exists();
        restored.notify = !crate::notify::socket_path(&sup.runtime_dir).exists();
        // Unit records and FIFOs, for every unit; log files open again where they were.
        let names: Vec<String> = self.units.keys().cloned().collect();
        for name in &names {
            if let Some(unit) = self.units.get_mut(name)
                && unit.fifos(&sup.runtime_dir).iter().any(|f| !f.exists())
            {
                unit.output = Err("its FIFOs went away".into());
            }
            self.write_record(name, true);
            if let Err(e) = self.set_up_output(name) {
                restored.failed.push(format!("{name}: {e}"));
            }
        }
        if !names.is_empty() {
            restored
                .made
                .push(format!("records and FIFOs of {} unit(s)", names.len()));
        }
        self.logs.reopen();
        let mut what: Vec<String> = gone
            .iter()
            .map(|g| match g {
                Gone::Dir(d) => format!("{} (directory)", d.display()),
                Gone::File(f) => f.display().to_string(),
            })
            .collect();
        what.dedup();
        restored.what_went = if what.is_empty() {
            "files found missing after the last repair".into()
        } else {
            what.join(", ")
        };
        restored
    }

    /// Journals and logs what was made again.
    pub(crate) fn report_restored(&mut self, restored: &Restored) {
        let mut made = restored.made.clone();
        if restored.socket {
            made.push(self.config.supervisor.socket.display().to_string());
        }
        if restored.notify {
            made.push("the notify socket".into());
        }
        let detail = format!(
            "gone: {}; made again: {}{}",
            restored.what_went,
            if made.is_empty() {
                "nothing".to_string()
            } else {
                made.join(", ")
            },
            if restored.failed.is_empty() {
                String::new()
            } else {
                format!("; could not make again: {}", restored.failed.join(", "))
            }
        );
        if restored.failed.is_empty() {
            tracing::warn!("the daemon's own files went away under it; {detail}");
        } else {
            tracing::error!("the daemon's own files went away under it; {detail}");
        }
        self.journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: "own files made again".into(),
            detail,
        });
    }
}

/// What [`Supervisor::restore_own_files`] did.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// What went away, in words.
    pub what_went: String,
    /// What was made again.
    pub made: Vec<String>,
    /// What could not be, and why.
    pub failed: Vec<String>,
    /// The control socket is missing: the caller binds a new one.
    pub socket: bool,
    /// The notify socket is missing: the caller binds a new one.
    pub notify: bool,
}
