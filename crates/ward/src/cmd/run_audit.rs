//! The audit records of `ward run`: one before the command starts, one when it ended, in
//! the trail of the config's state dir. `ward run` appends them itself, under the trail's
//! lock, whether a daemon runs or not (see `ward_store::audit`). The record before the
//! start fails closed: a run whose record cannot be written does not run. A caller who may
//! not write the trail (not ward's user) runs unrecorded, and is told so: `ward run` gives
//! it no privilege it did not have.

use std::io::ErrorKind;
use std::path::Path;

use ward_store::audit::{AuditLog, Event, Peer};

use crate::exit::Failure;

/// The trail a run is recorded in.
pub struct RunAudit {
    log: AuditLog,
    argv: Vec<String>,
}

impl RunAudit {
    /// Records the run about to start in the trail of `state_dir`. `None` when there is no
    /// trail to write: no config (`state_dir` is `None`), no state dir yet, or a caller who
    /// may not write it (said on stderr).
    pub fn begin(
        state_dir: Option<&Path>,
        argv: &[String],
        uid: u32,
        cwd: &Path,
        env: &[(String, String)],
    ) -> Result<Option<RunAudit>, Failure> {
        let Some(dir) = state_dir else {
            return Ok(None);
        };
        if !dir.is_dir() {
            crate::out::errln!(
                "ward: this run is not recorded: there is no audit trail in {} (no daemon has run there)",
                dir.display()
            );
            return Ok(None);
        }
        let path = dir.join(ward_store::audit::FILE);
        let refused = |e: std::io::Error| {
            Failure::Failed(format!(
                "cannot write the audit record to {}: {e}; nothing was run",
                path.display()
            ))
        };
        let mut log = match AuditLog::open(dir) {
            Ok(log) => log,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                crate::out::errln!(
                    "ward: this run is not recorded: {} may be written by ward's user only ({e})",
                    path.display()
                );
                return Ok(None);
            }
            Err(e) => return Err(refused(e)),
        };
        let by = Peer {
            uid: ward_sys::own_uid(),
            gid: ward_sys::own_gid(),
            pid: std::process::id(),
            exe: std::env::current_exe()
                .ok()
                .map(|p| p.display().to_string()),
            addr: None,
        };
        // A secret passed with `--env` stays out of the trail even where the argv repeats it.
        let secrets = ward_core::secrets::Redactor::of(
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &[],
        );
        let argv: Vec<String> = argv
            .iter()
            .map(|a| {
                secrets
                    .as_ref()
                    .map_or(a.clone(), |r| r.text(a).into_owned())
            })
            .collect();
        let event = Event::Run {
            by,
            argv: argv.clone(),
            uid,
            cwd: cwd.display().to_string(),
            env: env.iter().map(|(k, _)| k.clone()).collect(),
        };
        log.append(ward_store::now_ms() as u64, event, true)
            .map_err(refused)?;
        Ok(Some(RunAudit { log, argv }))
    }

    /// Records how the run ended; a failure is said, since the run is over either way.
    pub fn end(mut self, pid: u32, exit: i32, timed_out: bool) {
        let event = Event::RunEnded {
            pid,
            argv: self.argv,
            exit,
            timed_out,
        };
        if let Err(e) = self.log.append(ward_store::now_ms() as u64, event, false) {
            crate::out::errln!("ward: cannot record the end of this run in the audit trail: {e}");
        }
    }
}
