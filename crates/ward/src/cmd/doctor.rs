//! `ward doctor [--repair]`: checks the state dir, the daemon's PID file and socket, the
//! journal and its backups, and the services' PID files; says what is wrong and how to fix
//! it, and with `--repair` fixes what can be fixed.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use ward_core::config::{Config, SupervisorConfig};
use ward_sys::pidfile::{self, Class};

use crate::client::{self, Method, Timeout};
use crate::exit::{FAILED, Failure, OK};
use crate::out::outln;

/// One finding.
struct Finding {
    ok: bool,
    what: String,
    fix: Option<String>,
}

fn ok(what: impl Into<String>) -> Finding {
    Finding {
        ok: true,
        what: what.into(),
        fix: None,
    }
}

fn problem(what: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        ok: false,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

pub fn doctor(
    path: &Path,
    sup: &SupervisorConfig,
    repair: bool,
    timeout: Timeout,
) -> Result<i32, Failure> {
    let mut findings = Vec::new();
    let state = &sup.state_dir;
    match std::fs::metadata(state) {
        Err(_) => findings.push(ok(format!(
            "state dir {} does not exist yet (ward up creates it)",
            state.display()
        ))),
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
            if repair
                && std::fs::set_permissions(state, std::fs::Permissions::from_mode(0o700)).is_ok()
            {
                findings.push(ok(format!(
                    "state dir {} narrowed to 0700",
                    state.display()
                )));
            } else {
                findings.push(problem(
                    format!(
                        "state dir {} is open to other users (mode {:o})",
                        state.display(),
                        meta.permissions().mode() & 0o777
                    ),
                    format!("chmod 700 {} (or ward doctor --repair)", state.display()),
                ));
            }
        }
        Ok(_) => findings.push(ok(format!("state dir {} is private", state.display()))),
    }

    let running = daemon(sup, repair, timeout, &mut findings);
    favordynmods(sup, &mut findings);
    journal(sup, repair, running, &mut findings);
    if let Ok(config) = client::load(path) {
        service_pidfiles(&config, running, &mut findings);
    }

    let problems = findings.iter().filter(|f| !f.ok).count();
    for f in &findings {
        outln!("{} {}", if f.ok { "ok     " } else { "PROBLEM" }, f.what)?;
        if let Some(fix) = &f.fix {
            outln!("        fix: {fix}")?;
        }
    }
    if problems == 0 {
        outln!("no problems found")?;
        Ok(OK)
    } else {
        outln!("{problems} problem(s) found")?;
        Ok(FAILED)
    }
}

/// Whether processes join their cgroups without waiting (`cgroup_favordynmods`).
fn favordynmods(sup: &SupervisorConfig, findings: &mut Vec<Finding>) {
    if sup.cgroup == ward_core::config::CgroupMode::Off {
        return;
    }
    match (ward_sys::favordynmods::is_on(), sup.cgroup_favordynmods) {
        (Some(true), _) => findings.push(ok(
            "the cgroup2 mount has favordynmods: services join their cgroups without waiting",
        )),
        (Some(false), false) => findings.push(ok(
            "the cgroup2 mount lacks favordynmods: each start waits for the kernel \
             (cgroup_favordynmods = true makes restarts faster)",
        )),
        (Some(false), true) => findings.push(problem(
            "cgroup_favordynmods = true, but the cgroup2 mount lacks favordynmods",
            "the daemon's log says why it was refused; it needs root and Linux 6.0 or later",
        )),
        (None, true) => findings.push(problem(
            "cgroup_favordynmods = true, but no cgroup2 hierarchy is mounted",
            "boot with cgroup_favordynmods=true on the kernel command line",
        )),
        (None, false) => {}
    }
}

/// The PID file and the socket; returns whether a daemon runs.
fn daemon(
    sup: &SupervisorConfig,
    repair: bool,
    timeout: Timeout,
    findings: &mut Vec<Finding>,
) -> bool {
    let pid_file = sup.state_dir.join("ward.pid");
    let v = pidfile::check(&pid_file);
    let running = v.class == Class::Valid;
    match &v.class {
        Class::Valid => findings.push(ok(format!("daemon runs (pid {})", v.pid.unwrap_or(0)))),
        Class::NotFound => findings.push(ok("no daemon runs")),
        Class::Stale(reason) if repair => match pidfile::remove_if_stale(&pid_file) {
            Ok((_, true)) => findings.push(ok(format!(
                "removed the stale {} ({})",
                pid_file.display(),
                reason.as_str()
            ))),
            _ => findings.push(problem(
                format!("stale {} ({})", pid_file.display(), reason.as_str()),
                "remove it by hand",
            )),
        },
        Class::Stale(reason) => findings.push(problem(
            format!("stale {}: {}", pid_file.display(), reason.as_str()),
            "ward doctor --repair removes it (ward up would take it over anyway)",
        )),
        other => findings.push(problem(
            format!("{}: {}", pid_file.display(), other.as_str()),
            "check its owner and permissions",
        )),
    }
    let socket = &sup.socket;
    match std::fs::symlink_metadata(socket) {
        Err(_) if running => findings.push(problem(
            format!("the daemon runs but {} is missing", socket.display()),
            "restart it: ward down, then ward up -d",
        )),
        Err(_) => {}
        Ok(meta) if !meta.file_type().is_socket() => findings.push(problem(
            format!("{} is not a socket", socket.display()),
            "move the file away; ward up will not remove it",
        )),
        Ok(_) if !running => {
            if repair && std::fs::remove_file(socket).is_ok() {
                findings.push(ok(format!("removed the stale socket {}", socket.display())));
            } else {
                findings.push(problem(
                    format!("stale socket {} without a daemon", socket.display()),
                    "ward doctor --repair removes it (ward up would replace it anyway)",
                ));
            }
        }
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                findings.push(problem(
                    format!("socket {} is open to other users", socket.display()),
                    format!("chmod 600 {}", socket.display()),
                ));
            }
            let answer: Result<ward_api::StatusResponse, _> =
                client::call(socket, Method::<()>::Get("/v1/status"), timeout);
            match answer {
                Ok(st) => {
                    findings.push(ok(format!("the daemon answers on {}", socket.display())));
                    if st.daemon.journal_dropped + st.daemon.journal_failed > 0 {
                        findings.push(problem(
                            format!(
                                "the journal lost {} records (queue full) and {} (write errors) since the daemon started",
                                st.daemon.journal_dropped, st.daemon.journal_failed
                            ),
                            "check the disk of the state dir: space, errors, speed",
                        ));
                    }
                    if let Some(r) = st.daemon.journal_repair {
                        findings.push(ok(format!("the journal was repaired at start-up: {r}")));
                    }
                }
                Err(e) => findings.push(problem(
                    format!("the daemon does not answer on {}: {e}", socket.display()),
                    "look at the daemon's log; restart it if it hangs",
                )),
            }
        }
    }
    running
}

fn journal(sup: &SupervisorConfig, repair: bool, running: bool, findings: &mut Vec<Finding>) {
    let journal = sup.state_dir.join("journal.db");
    let backups = ward_store::backups(&journal);
    if !journal.exists() {
        if backups.is_empty() {
            findings.push(ok("no journal yet (ward up creates it)"));
        } else {
            findings.push(problem(
                format!("{} is missing but backups exist", journal.display()),
                "ward up restores the newest backup by itself, or ward restore FILE",
            ));
        }
    } else {
        match ward_store::integrity_check(&journal) {
            Ok(lines) if lines == ["ok"] => findings.push(ok(format!(
                "journal {} passes its integrity check",
                journal.display()
            ))),
            Err(e) if !ward_store::is_damage(&e) => findings.push(problem(
                format!("cannot check the journal {}: {e}", journal.display()),
                "check its owner and permissions; run ward doctor as the daemon's user",
            )),
            result => {
                let detail = match result {
                    Ok(lines) => lines.join("; "),
                    Err(e) => e.to_string(),
                };
                if repair && !running {
                    match ward_store::repair(
                        &journal,
                        &format!("ward doctor found damage: {detail}"),
                    ) {
                        Ok(report) => findings.push(ok(format!("journal repaired: {report}"))),
                        Err(e) => findings.push(problem(
                            format!("the repair failed: {e}"),
                            "restore a backup with ward restore FILE",
                        )),
                    }
                } else {
                    findings.push(problem(
                        format!("journal {} is damaged: {detail}", journal.display()),
                        if running {
                            "stop the daemon (ward down), then ward doctor --repair"
                        } else {
                            "ward doctor --repair (the damaged file is kept)"
                        },
                    ));
                }
            }
        }
    }
    match backups.first() {
        None => findings.push(ok(
            "no journal backups yet (the daemon makes one every journal_backup_interval; ward backup makes one now)",
        )),
        Some(newest) => match ward_store::integrity_check(newest) {
            Ok(lines) if lines == ["ok"] => findings.push(ok(format!(
                "{} backups; the newest, {}, is sound",
                backups.len(),
                newest.display()
            ))),
            _ => findings.push(problem(
                format!("the newest backup {} is damaged", newest.display()),
                "ward backup makes a new one",
            )),
        },
    }
}

fn service_pidfiles(config: &Config, running: bool, findings: &mut Vec<Finding>) {
    for inst in config.instances() {
        let Some(path) = inst.pidfile() else { continue };
        let v = pidfile::check(&path);
        match v.class {
            Class::Valid => findings.push(ok(format!("{}: pid file valid", inst.name))),
            Class::NotFound => {}
            Class::Stale(reason) if running => findings.push(problem(
                format!(
                    "{}: pid file {} is stale ({})",
                    inst.name,
                    path.display(),
                    reason.as_str()
                ),
                format!(
                    "ward pid clean {}",
                    path.parent()
                        .map_or(".".into(), |p| p.display().to_string())
                ),
            )),
            _ => {}
        }
    }
}
