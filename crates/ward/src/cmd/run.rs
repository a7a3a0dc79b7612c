//! `ward run [OPTIONS] -- CMD ARGS…`: one command, spawned as ward spawns a service (argv,
//! a clean environment, a session of its own, its limits), its output streamed, its exit
//! code passed on. On timeout the whole tree gets SIGTERM, then SIGKILL after
//! `--kill-after`; what the command leaves running when it exits is stopped the same way.
//! The tree is held by a cgroup of the run's own where there is one, and always by this
//! process as subreaper (`run_tree.rs`). Runs with or without a daemon.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use ward_core::Signal;
use ward_core::config::Rlimits;
use ward_core::oneshot;

use crate::client::Timeout;
use crate::cmd::run_tree::RunTree;
use crate::exit::Failure;

/// What `ward run` was asked.
pub struct RunArgs {
    pub state_dir: Option<std::path::PathBuf>,
    pub timeout: Option<Timeout>,
    pub kill_after: String,
    pub limits: Vec<String>,
    pub memory_max: Option<String>,
    pub user: Option<String>,
    pub env: Vec<String>,
    pub command: Vec<String>,
}

/// How often the run looks at its children while it waits.
pub(crate) const TICK: Duration = Duration::from_millis(5);

pub fn run(args: RunArgs) -> Result<i32, Failure> {
    let timeout = match args.timeout {
        Some(Timeout::After(d)) => Some(d),
        Some(Timeout::Never) | None => None,
    };
    let kill_after = ward_core::duration::parse_duration(&args.kill_after).map_err(|_| {
        Failure::Usage(format!(
            "invalid duration `{}` for --kill-after\n  hint: write a number and a unit, such as 5s",
            args.kill_after
        ))
    })?;
    let mut rlimits = Rlimits::default();
    for spec in &args.limits {
        oneshot::add_limit(&mut rlimits, spec).map_err(Failure::Usage)?;
    }
    let run_as = ward_core::config::RunAs {
        user: args.user.clone(),
        ..Default::default()
    };
    let credentials = ward_core::accounts::resolve(&run_as, &ward_sys::accounts::System)
        .map_err(|e| Failure::Usage(format!("--{e}")))?;
    let mut env =
        ward_sys::spawn::base_environment(credentials.as_ref().and_then(|c| c.user.as_ref()));
    for spec in &args.env {
        let (k, v) = oneshot::env_pair(spec).map_err(Failure::Usage)?;
        env.retain(|(ek, _)| *ek != k);
        env.push((k, v));
    }
    let memory_max = match &args.memory_max {
        None => None,
        Some(text) => Some(ward_core::config::parse_size(text).ok_or_else(|| {
            Failure::Usage(format!(
                "invalid size `{text}` for --memory-max\n  hint: such as 512M or 1G"
            ))
        })?),
    };
    let tree = RunTree::new(memory_max)?;
    let dup = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .map_err(|e| Failure::Failed(format!("cannot pass on standard input or output: {e}")))
    };
    let spec = ward_sys::spawn::SpawnSpec {
        argv: args.command.clone(),
        env,
        cwd: std::env::current_dir()
            .map_err(|e| Failure::Failed(format!("cannot read the working directory: {e}")))?,
        stdin: dup(std::io::stdin().as_fd())?,
        stdout: dup(std::io::stdout().as_fd())?,
        stderr: dup(std::io::stderr().as_fd())?,
        cgroups: tree.join_files()?,
        nofile: None,
        rlimits,
        // The command dies with `ward run`: a killed `ward run` leaves nothing behind.
        parent_death_signal: Some(Signal::KILL),
        umask: 0o022,
        no_new_privs: true,
        credentials,
        capabilities: None,
        private_tmp: None,
    };
    let runs_as = spec
        .credentials
        .as_ref()
        .and_then(|c| c.uid)
        .unwrap_or_else(ward_sys::own_uid);
    let audit = crate::cmd::run_audit::RunAudit::begin(
        args.state_dir.as_deref(),
        &spec.argv,
        runs_as,
        &spec.cwd,
        &spec.env,
    )?;
    let spawned = match ward_sys::spawn::spawn(spec) {
        Ok(spawned) => spawned,
        Err(e) => {
            if let Some(audit) = audit {
                audit.end(0, 127, false);
            }
            return Err(Failure::Failed(format!(
                "cannot run `{}`: {e}",
                args.command.join(" ")
            )));
        }
    };
    let main = spawned.pidfd.pid();
    let started = Instant::now();
    let mut timed_out = false;
    let mut kill_at = None;
    let status = loop {
        let mut ended = None;
        while let Ok(Some((pid, status))) = ward_sys::reap::reap_any() {
            if pid == main {
                ended = Some(status);
            }
        }
        if let Some(status) = ended {
            break status;
        }
        let now = Instant::now();
        if !timed_out && timeout.is_some_and(|t| now >= started + t) {
            timed_out = true;
            tree.signal(Signal::TERM);
            kill_at = Some(now + kill_after);
        }
        if kill_at.is_some_and(|at| now >= at) {
            tree.signal(Signal::KILL);
            kill_at = None;
        }
        std::thread::sleep(TICK);
    };
    if timed_out {
        crate::out::errln!(
            "ward: `{}` ran out of time after {}",
            args.command.join(" "),
            ward_core::duration::format_duration(timeout.unwrap_or_default())
        );
        // What is left of the tree (a process that left it and outlived the main one)
        // goes too, and is reaped.
        tree.end(Duration::ZERO);
    } else {
        // The run is the command and all it started: what it left running is stopped.
        let left = tree.end(kill_after);
        if left > 0 {
            crate::out::errln!(
                "ward: stopped {left} process{} that `{}` left running",
                if left == 1 { "" } else { "es" },
                args.command.join(" ")
            );
        }
    }
    drop(tree);
    let code = oneshot::exit_code(status, timed_out);
    if let Some(audit) = audit {
        audit.end(main, code, timed_out);
    }
    Ok(code)
}
