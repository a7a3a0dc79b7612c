//! From a unit's config to a [`SpawnSpec`], and from a spawn error to the words the
//! operator reads.

use std::io;
use std::os::fd::OwnedFd;

use ward_core::config::{DaemonExit, Instance, Readiness};
use ward_core::machine::SpawnFailure;
use ward_sys::limits::Limit;
use ward_sys::spawn::{ChildStep, ExecErrno, SpawnError, SpawnSpec, exec_errno};
use ward_sys::tree::UNIT_ENV;

/// The environment a service starts with: a fixed `PATH`, `HOME`, `LANG` and `TZ` from
/// ward's own environment when set, the variables named in `inherit_env` from it too,
/// ward's markers, then the service's own `env` (with what its `env_file`s gave), which
/// wins (it may not override the markers; the config check refuses that).
pub fn environment(unit: &str, inst: &Instance) -> Vec<(String, String)> {
    let credentials = inst.service.credentials.as_ref();
    let mut env = ward_sys::spawn::base_environment(credentials.and_then(|c| c.user.as_ref()));
    // Passed on by name from the daemon's own environment (`inherit_env`).
    for key in &inst.service.inherit_env {
        if let Ok(v) = std::env::var(key) {
            env.retain(|(ek, _)| ek != key);
            env.push((key.clone(), v));
        }
    }
    env.push((UNIT_ENV.into(), unit.into()));
    env.push(("WARD_SERVICE".into(), inst.service.name.clone()));
    env.push(("WARD_INSTANCE".into(), inst.index.to_string()));
    if let Some(base) = inst.service.port_base {
        env.push(("PORT".into(), (u32::from(base) + inst.index).to_string()));
    }
    // `${VAR}` in `env` values, each expanded once against the environment as written
    // (no value expands another's expansion, so no order matters and nothing loops).
    let written: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !inst.service.env.contains_key(k))
        .cloned()
        .chain(inst.service.env.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect();
    for (k, v) in &inst.service.env {
        env.retain(|(ek, _)| ek != k);
        let (value, _) = ward_core::expand::expand(v, |name| lookup(&written, name));
        env.push((k.clone(), value));
    }
    env
}

fn lookup<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `argv` with `${VAR}` expanded from `env` and `$$` made `$`, never through a shell;
/// with the names that `env` does not have (expanded to nothing), for the caller to say.
pub fn expand_argv(argv: &[String], env: &[(String, String)]) -> (Vec<String>, Vec<String>) {
    let mut unset = Vec::new();
    let argv = argv
        .iter()
        .map(|a| {
            let (text, missing) = ward_core::expand::expand(a, |name| lookup(env, name));
            unset.extend(missing);
            text
        })
        .collect();
    (argv, unset)
}

/// What masks the values of the secrets in `env`, the environment of a process of `inst`;
/// `None` when it has none.
pub fn secrets(env: &[(String, String)], inst: &Instance) -> Option<ward_core::secrets::Redactor> {
    ward_core::secrets::Redactor::of(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &inst.service.secret_env,
    )
}

/// The pipes and cgroup a spawn uses; owned by the unit and lent for each spawn.
pub struct Plumbing {
    /// Write end of the unit's stdout pipe.
    pub stdout: OwnedFd,
    /// Write end of the unit's stderr pipe.
    pub stderr: OwnedFd,
    /// The cgroups to join: the containing one, and those of the resource
    /// controllers that enforce the unit's limits.
    pub cgroups: Vec<ward_sys::spawn::CgroupJoin>,
}

/// Builds the spec for one spawn.
pub fn spec(
    unit: &str,
    inst: &Instance,
    plumbing: Plumbing,
    nofile: Limit,
    notify_socket: &std::path::Path,
    private_tmp: Option<std::path::PathBuf>,
) -> io::Result<SpawnSpec> {
    let mut env = environment(unit, inst);
    let svc = &inst.service;
    if svc.ready == Readiness::Notify || svc.watchdog.is_some() {
        env.push((
            "NOTIFY_SOCKET".into(),
            notify_socket.to_string_lossy().into_owned(),
        ));
    }
    if let Some(every) = svc.watchdog {
        env.push(("WATCHDOG_USEC".into(), every.as_micros().to_string()));
    }
    // A command for `/bin/sh -c` is the shell's to expand.
    let argv = if svc.shell {
        svc.command.clone()
    } else {
        expand_argv(&svc.command, &env).0
    };
    Ok(SpawnSpec {
        argv,
        env,
        cwd: inst.service.cwd.clone(),
        stdin: ward_sys::spawn::dev_null()?,
        stdout: plumbing.stdout,
        stderr: plumbing.stderr,
        cgroups: plumbing.cgroups,
        nofile: Some(nofile),
        rlimits: *inst.service.rlimits,
        parent_death_signal: (inst.service.on_daemon_exit == DaemonExit::Stop)
            .then_some(ward_core::Signal::KILL),
        umask: inst.service.umask,
        no_new_privs: inst.service.no_new_privs,
        credentials: inst.service.credentials.as_deref().cloned(),
        capabilities: inst.service.capabilities,
        private_tmp,
    })
}

/// Names what went wrong precisely: which file, which step, which errno.
pub fn failure(err: &SpawnError, inst: &Instance) -> SpawnFailure {
    match err {
        SpawnError::NotOnPath { .. } => SpawnFailure::NotFound(err.to_string()),
        SpawnError::Invalid(m) => SpawnFailure::Other(m.clone()),
        SpawnError::Fork(e) => SpawnFailure::Other(format!("ward could not fork: {e}")),
        SpawnError::Cgroup(_) => SpawnFailure::Other(err.to_string()),
        SpawnError::Child {
            step,
            error,
            program,
            ..
        } => match step {
            ChildStep::Chdir => {
                SpawnFailure::BadCwd(format!("{}: {error}", inst.service.cwd.display()))
            }
            ChildStep::Exec => match exec_errno(error) {
                ExecErrno::NotFound => SpawnFailure::NotFound(format!(
                    "{program}: no such file (or its #! interpreter is missing)"
                )),
                // The kernel answers EACCES for a directory too: say which it is. A
                // relative path was looked up from the service's `cwd`.
                ExecErrno::PermissionDenied if inst.service.cwd.join(program).is_dir() => {
                    SpawnFailure::IsDirectory(program.clone())
                }
                ExecErrno::PermissionDenied => {
                    SpawnFailure::PermissionDenied(format!("{program}: {error}"))
                }
                ExecErrno::BadFormat => SpawnFailure::BadFormat(format!("{program}: {error}")),
                ExecErrno::Other => SpawnFailure::Other(format!("{program}: {error}")),
            },
            ChildStep::ParentDeath => {
                SpawnFailure::Other(format!("cannot tie the process to ward's life: {error}"))
            }
            ChildStep::JoinCgroup => {
                SpawnFailure::Other(format!("cannot join the cgroup: {error}"))
            }
            ChildStep::NewSession => {
                SpawnFailure::Other(format!("cannot start a session: {error}"))
            }
            ChildStep::Rlimit => SpawnFailure::Other(format!("cannot set its rlimits: {error}")),
            ChildStep::Stdio => SpawnFailure::Other(format!("cannot connect its output: {error}")),
            ChildStep::CloseFds => SpawnFailure::Other(format!(
                "cannot close the descriptors it must not inherit: {error}"
            )),
            ChildStep::NoNewPrivs => {
                SpawnFailure::Other(format!("cannot set no_new_privs: {error}"))
            }
            ChildStep::MountNamespace => SpawnFailure::Other(format!(
                "cannot give it a private /tmp (private_tmp): {error}"
            )),
            ChildStep::Groups => SpawnFailure::Other(format!(
                "cannot set its supplementary groups (groups): {error}"
            )),
            ChildStep::Gid => {
                SpawnFailure::Other(format!("cannot switch to its group (group): {error}"))
            }
            ChildStep::Uid => {
                SpawnFailure::Other(format!("cannot switch to its user (user): {error}"))
            }
            ChildStep::Capabilities => SpawnFailure::Other(format!(
                "cannot keep its capabilities (capabilities): {error}"
            )),
            ChildStep::Affinity => SpawnFailure::Other(format!(
                "cannot leave the CPU it was cloned on for those its cpuset allows: {error}"
            )),
        },
    }
}
