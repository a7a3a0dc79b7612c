//! `ward backup` (through the daemon) and `ward restore FILE` (with the daemon stopped).

use std::path::Path;

use ward_api::BackupResponse;
use ward_core::config::SupervisorConfig;
use ward_sys::pidfile::{self, Class};

use crate::client::{self, Empty, Method, Timeout};
use crate::exit::{Failure, OK};
use crate::out::outln;

pub fn backup(sup: &SupervisorConfig, timeout: Timeout) -> Result<i32, Failure> {
    let resp: BackupResponse =
        client::call(&sup.socket, Method::Post("/v1/backup", Empty {}), timeout)?;
    outln!("journal backed up to {} (verified)", resp.file)?;
    Ok(OK)
}

pub fn restore(sup: &SupervisorConfig, file: &Path) -> Result<i32, Failure> {
    refuse_if_running(sup, "restore the journal")?;
    let journal = sup.state_dir.join("journal.db");
    let aside = ward_store::restore(&journal, file).map_err(|e| Failure::Failed(e.to_string()))?;
    outln!("restored {} as {}", file.display(), journal.display())?;
    if let Some(aside) = aside {
        outln!("the journal it replaced was moved to {}", aside.display())?;
    }
    Ok(OK)
}

/// The journal is the daemon's while it runs: refuse to touch it then.
pub fn refuse_if_running(sup: &SupervisorConfig, what: &str) -> Result<(), Failure> {
    let v = pidfile::check(&sup.state_dir.join("ward.pid"));
    if v.class == Class::Valid {
        return Err(Failure::Failed(format!(
            "cannot {what} while the daemon (pid {}) runs\n  hint: stop it with `ward down` first",
            v.pid.unwrap_or(0)
        )));
    }
    Ok(())
}
