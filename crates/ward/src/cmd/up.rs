//! `ward up [-d]`: the daemon, in the foreground or detached.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use ward_daemon::Options;
use ward_sys::daemonize::{Forked, fork_daemon, redirect_stdio};

use crate::client;
use crate::exit::{FAILED, Failure, OK};
use crate::out::outln;

pub fn up(path: &Path, detach: bool, init: bool) -> Result<i32, Failure> {
    // PID 1 of a PID namespace (a container's entrypoint) is its init, asked or not.
    let init = init || std::process::id() == 1;
    if init && detach {
        return Err(Failure::Usage(
            "--init and -d do not go together: a container's init stays in the foreground".into(),
        ));
    }
    let config = client::load(path).map_err(|failure| match failure {
        Failure::Usage(m) => Failure::Usage(format!("{m}; nothing was started")),
        other => other,
    })?;
    let mut ready = None;
    if detach {
        // Refused before the state dir or the daemon exists; the foreground daemon checks
        // for itself before it creates anything.
        ward_daemon::check_descriptors(&config).map_err(|e| Failure::Failed(e.to_string()))?;
        let state_dir = &config.supervisor.state_dir;
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|e| Failure::Failed(format!("cannot create {}: {e}", state_dir.display())))?;
        let log_path = state_dir.join("ward.log");
        // No thread exists yet: the runtime starts only in the child.
        match fork_daemon().map_err(|e| Failure::Failed(format!("cannot fork: {e}")))? {
            Forked::Parent { child, report } => {
                let mut line = String::new();
                let mut reader = BufReader::new(report);
                let _ = reader.read_line(&mut line);
                return if line.trim() == "ok" {
                    outln!(
                        "ward is up (pid {child}); socket {}, daemon log {}",
                        config.supervisor.socket.display(),
                        log_path.display()
                    )?;
                    Ok(OK)
                } else if line.trim().is_empty() {
                    Err(Failure::Failed(format!(
                        "the daemon exited before it answered; see {}",
                        log_path.display()
                    )))
                } else {
                    // The daemon exits after saying why: the rest (a hint) follows.
                    let mut rest = String::new();
                    let _ = reader.read_to_string(&mut rest);
                    Err(Failure::Failed(
                        format!("{line}{rest}").trim_end().to_string(),
                    ))
                };
            }
            Forked::Child { report } => {
                let log = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .map_err(|e| {
                        Failure::Failed(format!("cannot open {}: {e}", log_path.display()))
                    })?;
                redirect_stdio(&log).map_err(|e| Failure::Failed(format!("cannot detach: {e}")))?;
                ready = Some(report);
            }
        }
    }
    init_tracing(!detach);
    let options = Options {
        config_path: path.to_path_buf(),
        config,
        ready,
        init,
    };
    match ward_daemon::run(options) {
        Ok(code) => Ok(code),
        Err(e) => {
            tracing::error!("{e}");
            if detach {
                return Ok(FAILED);
            }
            Err(Failure::Failed(e.to_string()))
        }
    }
}

/// The daemon's own log: stderr, filtered by `WARD_LOG` (`debug`, or per module as
/// `ward_daemon=debug,info`) or at `info`. Targets rather than tracing's `EnvFilter`:
/// the daemon needs no span or field filters, and `EnvFilter` brings a regex engine,
/// about 270 KiB of code every daemon would map.
fn init_tracing(ansi: bool) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let wanted = std::env::var("WARD_LOG").ok();
    let (filter, refused) = match wanted.as_deref().map(str::parse::<Targets>) {
        None => (Targets::new().with_default(LevelFilter::INFO), None),
        Some(Ok(targets)) => (targets, None),
        Some(Err(e)) => (Targets::new().with_default(LevelFilter::INFO), Some(e)),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init();
    if let Some(e) = refused {
        tracing::warn!(
            "WARD_LOG={:?} is not a filter ({e}); logging at info. Write a level \
             (`debug`) or `module=level` pairs separated by commas",
            wanted.unwrap_or_default()
        );
    }
}
