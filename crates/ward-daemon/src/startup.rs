//! Everything before the loop: directories, the lock, the socket, cgroups, the journal; and
//! taking all of it back when the start fails (see `footprint`).

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use ward_core::config::CgroupMode;
use ward_sys::cgroup::{CgroupDriver, Version};
use ward_sys::pidfile::{HeldPidFile, PidFileError, PidRecord};

use crate::Options;
use crate::footprint::Footprint;
use crate::supervisor::Supervisor;

/// Why the daemon could not start (or run) at all.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another daemon holds the state dir.
    #[error(
        "another ward daemon (pid {holder}) already runs on this state dir; its pid file is {}\n  hint: use `ward status` to talk to it, or `ward down` to stop it",
        path.display()
    )]
    Locked {
        /// The daemon's PID file.
        path: PathBuf,
        /// The PID it names.
        holder: String,
    },
    /// The daemon's PID file could not be written.
    #[error("{0}")]
    PidFile(#[source] PidFileError),
    /// A directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `api_group` or `api_readers` names no group.
    #[error(
        "{key} = \"{name}\": no group of that name\n  hint: create it (`groupadd {name}`) and add the users who may talk to ward, or remove `{key}` from [supervisor]"
    )]
    NoGroup {
        /// The key.
        key: &'static str,
        /// The name.
        name: String,
    },
    /// Programs someone other than their owner and root could replace.
    #[error("{0}")]
    Programs(String),
    /// An existing directory others could write to, which ward will not change.
    #[error(
        "cannot keep ward's files in {path} ({key}): {problem}\n  hint: let only ward's user write there (`chmod go-w {path}`, or `chown` it to that user), or set `{key}` in [supervisor] to a directory of ward's own; ward creates a missing one with mode 0700"
    )]
    UnsafeDir {
        /// The config key that names it (`state_dir`, or `socket` for the socket's
        /// directory).
        key: &'static str,
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: ward_core::dirs::DirProblem,
    },
    /// The requested cgroup version is not usable here.
    #[error(
        "cgroup = \"{mode}\" was asked for, but {reason}\n  hint: set cgroup = \"auto\" or \"off\" in [supervisor]"
    )]
    Cgroup {
        /// The configured mode.
        mode: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP listener could not be bound.
    #[error(
        "cannot listen on {addr} ([supervisor] http): {source}\n  hint: another program may hold the port; choose another, or stop it"
    )]
    Http {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The control socket could not be bound.
    #[error("cannot listen on {path}: {source}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A recorded service still runs under another ward daemon.
    #[error(
        "{unit} (pid {pid}) still runs under another ward daemon (pid {daemon}) on this state dir, which has lost its pid file\n  hint: stop that daemon (`kill -TERM {daemon}`) before starting this one; two daemons would each supervise the same services"
    )]
    HeldElsewhere {
        /// The unit.
        unit: String,
        /// Its main process.
        pid: u32,
        /// The daemon it runs under.
        daemon: u32,
    },
    /// The config needs more open files than this process may have.
    #[error(
        "{0}\n  hint: raise the hard limit on open files for ward (`ulimit -Hn`, LimitNOFILE= in a systemd unit, `nofile` in /etc/security/limits.conf; root may raise it itself), or split the services over more than one state dir"
    )]
    Descriptors(ward_core::budget::Shortfall),
    /// The journal could not be opened (damaged, too new, not writable).
    #[error("{0}")]
    Journal(#[source] ward_store::StoreError),
    /// Anything else the operating system refused.
    #[error("{what}: {source}")]
    Os {
        /// What ward was doing.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The directories the daemon keeps its files in, by the config key that names each.
fn own_dirs(sup: &ward_core::config::SupervisorConfig) -> Vec<(&'static str, &Path)> {
    let mut dirs = vec![
        ("state_dir", sup.state_dir.as_path()),
        ("runtime_dir", sup.runtime_dir.as_path()),
        ("log_dir", sup.log_dir.as_path()),
    ];
    if let Some(parent) = sup.socket.parent().filter(|p| !p.as_os_str().is_empty()) {
        dirs.push(("socket", parent));
    }
    dirs
}

fn dir_error(key: &'static str, path: &Path, e: crate::footprint::DirError) -> StartError {
    match e {
        crate::footprint::DirError::Unsafe(problem) => StartError::UnsafeDir {
            key,
            path: path.to_path_buf(),
            problem,
        },
        crate::footprint::DirError::Io(source) => StartError::Dir {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// What a loader (`ward up`, `ward check`, a reload) does after the parse: the `env_file`s
/// read into `env`, the accounts of `user` and `group` looked up, the `timezone`s found in
/// the system's database. The error names its place: `FILE:LINE:COLUMN: …` where the check
/// knows the line, else `FILE: …`.
pub fn finish_loading(
    config: ward_core::config::Config,
) -> Result<ward_core::config::Config, String> {
    let file = config.path.display().to_string();
    config
        .read_env_files(|f| ward_sys::config_file::read(f).map_err(|e| e.reason()))
        .and_then(|c| c.resolve_accounts(&ward_sys::accounts::System))
        .and_then(|c| c.check_time_zones(|tz| ward_sys::time_zone::time_zone(Some(tz)).map(|_| ())))
        .map_err(|e| {
            if e.starts_with(&file) {
                e
            } else {
                format!("{file}: {e}")
            }
        })
}

/// Refuses, changing nothing, a config whose existing directories others could write to:
/// what `ward check` asks. Missing ones are fine; the daemon creates them.
pub fn check_dirs(config: &ward_core::config::Config) -> Result<(), StartError> {
    for (key, path) in own_dirs(&config.supervisor) {
        if path.exists() {
            crate::footprint::judge_existing(path).map_err(|e| dir_error(key, path, e))?;
        }
    }
    Ok(())
}

/// The groups `api_group` and `api_readers` name, by id. A name no group has refuses the
/// config.
pub(crate) fn open_to(
    sup: &ward_core::config::SupervisorConfig,
) -> Result<ward_core::access::Groups, StartError> {
    let gid = |key: &'static str, name: &Option<String>| -> Result<Option<u32>, StartError> {
        let Some(name) = name else { return Ok(None) };
        match ward_sys::groups::gid_of(name) {
            Ok(Some(gid)) => Ok(Some(gid)),
            Ok(None) => Err(StartError::NoGroup {
                key,
                name: name.clone(),
            }),
            Err(source) => Err(StartError::Os {
                what: "cannot look up a group",
                source,
            }),
        }
    };
    Ok(ward_core::access::Groups {
        ops: gid("api_group", &sup.api_group)?,
        readers: gid("api_readers", &sup.api_readers)?,
    })
}

/// What `ward check` asks of `api_group` and `api_readers`: that the groups exist.
pub fn check_access(config: &ward_core::config::Config) -> Result<(), StartError> {
    open_to(&config.supervisor).map(|_| ())
}

/// Refuses a config that names a program others could replace (see `programs.rs`).
pub fn check_programs(config: &ward_core::config::Config) -> Result<(), StartError> {
    let refused = crate::programs::refused(config);
    if refused.is_empty() {
        Ok(())
    } else {
        Err(StartError::Programs(crate::programs::describe(&refused)))
    }
}

/// Refuses a config that cannot fit this process's limit on open files, changing
/// nothing: what `ward up -d` asks before it creates or forks anything.
pub fn check_descriptors(config: &ward_core::config::Config) -> Result<(), StartError> {
    let demand = ward_core::budget::Demand::of(&config.instances());
    ward_sys::limits::could_fit_nofile(demand.descriptors())
        .map_err(|available| StartError::Descriptors(demand.shortfall(available)))
}

pub(crate) fn run(options: Options) -> Result<i32, StartError> {
    let Options {
        config_path,
        config,
        mut ready,
        init,
    } = options;
    // The config moves into the supervisor: one copy for the daemon's whole life.
    let result = start_and_supervise(config_path, config, &mut ready, init);
    if let (Err(e), Some(ready)) = (&result, ready.as_mut()) {
        // `ward up -d` is waiting in the parent: tell it why.
        let _ = writeln!(ready, "{e}");
    }
    result
}

fn start_and_supervise(
    config_path: PathBuf,
    config: ward_core::config::Config,
    ready: &mut Option<fs::File>,
    init: bool,
) -> Result<i32, StartError> {
    let sup = config.supervisor.clone();
    // Read before any thread exists: the variable leaves ward's environment.
    let systemd = ward_sys::sd_notify::Notifier::from_env();
    // The lowest descriptors free, for children's stdio (see `stdio_slots`). Without them
    // spawns still work, only slower with thousands of units.
    if let Err(e) = ward_sys::stdio_slots::reserve() {
        tracing::warn!("no descriptors kept for children's stdio: {e}");
    }
    // Before anything is created: a config that cannot fit is refused whole, never started
    // in part.
    check_programs(&config)?;
    let demand = ward_core::budget::Demand::of(&config.instances());
    let nofile = ward_sys::limits::ensure_nofile(demand.descriptors())
        .map_err(|available| StartError::Descriptors(demand.shortfall(available)))?;
    // While this is the only thread: grown later, the table waits for an RCU grace period
    // at every doubling (see `grow_descriptor_table`).
    ward_sys::limits::grow_descriptor_table(demand.descriptors());
    // Everything the daemon creates (socket, logs, PID file) is for its own user only;
    // services get the usual 022 back when they are spawned.
    ward_sys::private_umask();
    let mut footprint = Footprint::default();
    let prepared = match prepare(&sup, &mut footprint) {
        Ok(p) => p,
        Err(e) => {
            footprint.undo();
            return Err(e);
        }
    };
    let Prepared {
        listener,
        http,
        journal,
        repaired,
        previous_crashed,
        cgroups,
        open_to,
    } = prepared;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(source) => {
            footprint.undo();
            return Err(StartError::Os {
                what: "cannot start the async runtime",
                source,
            });
        }
    };
    let api = match crate::serving::ApiRuntime::start() {
        Ok(r) => r,
        Err(source) => {
            footprint.undo();
            return Err(StartError::Os {
                what: "cannot start the API's runtime",
                source,
            });
        }
    };
    let supervised = runtime.block_on(async {
        let listener = {
            // The listener's readiness is driven by the runtime it is served on.
            let _api = api.handle().enter();
            UnixListener::from_std(listener)
        };
        let listener = listener.map_err(|source| StartError::Socket {
            path: sup.socket.clone(),
            source,
        })?;
        let audit =
            crate::audit::Audit::open(&sup.state_dir, journal.handle()).map_err(|source| {
                StartError::Os {
                    what: "cannot open the audit trail",
                    source,
                }
            })?;
        let history = crate::supervisor::History {
            journal,
            repaired,
            previous_crashed,
            audit,
        };
        let mut supervisor =
            Supervisor::new(config_path, config, cgroups, nofile, history, open_to).map_err(
                |source| StartError::Os {
                    what: "cannot start the log writer",
                    source,
                },
            )?;
        supervisor.http_addr = http.as_ref().and_then(|(l, _)| l.local_addr().ok());
        supervisor.http = http;
        supervisor.init = init;
        supervisor.api = api.handle().clone();
        supervisor.systemd = systemd;
        let ready = ready.take();
        Ok(supervisor.run(listener, ready).await)
    });
    match supervised {
        Ok(_) => footprint.finish(),
        Err(_) => footprint.undo(),
    }
    supervised
}

/// What the daemon needs from the host before its loop runs.
struct Prepared {
    listener: std::os::unix::net::UnixListener,
    http: Option<(std::net::TcpListener, crate::http::Tokens)>,
    journal: ward_store::Journal,
    repaired: Option<ward_store::RepairReport>,
    previous_crashed: bool,
    cgroups: Option<CgroupDriver>,
    open_to: ward_core::access::Groups,
}

/// The directories, the lock, the socket, the cgroups and the journal, in that order:
/// what can refuse the start comes before the journal, so that a refused start does not
/// even open it. Everything made is kept in `footprint`, for a start that fails to take
/// back.
fn prepare(
    sup: &ward_core::config::SupervisorConfig,
    footprint: &mut Footprint,
) -> Result<Prepared, StartError> {
    for (key, path) in own_dirs(sup) {
        footprint
            .private_dir(path)
            .map_err(|e| dir_error(key, path, e))?;
    }
    let open_to = open_to(sup)?;
    if open_to != Default::default()
        && let Some(dir) = sup.socket.parent().filter(|p| !p.as_os_str().is_empty())
    {
        // The groups must reach the socket: a directory this start made lets anyone pass
        // through it (not list it); one that was there is left as it is, and named if
        // they cannot pass.
        if footprint.made(dir) {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o711)).map_err(|source| {
                StartError::Dir {
                    path: dir.to_path_buf(),
                    source,
                }
            })?;
        } else if fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o011 == 0) {
            tracing::warn!(
                dir = %dir.display(),
                "api_group and api_readers cannot reach the socket: its directory lets nobody else through (give it o+x or g+x)"
            );
        }
    }
    let argv: Vec<String> = std::env::args().collect();
    let me =
        PidRecord::of(ward_sys::own_pid(), "ward", &argv).map_err(|source| StartError::Os {
            what: "cannot read this process's identity",
            source,
        })?;
    // A PID file left behind names a daemon that did not exit cleanly.
    let pid_path = sup.pid_file();
    let previous_crashed = matches!(
        ward_sys::pidfile::check(&pid_path).class,
        ward_sys::pidfile::Class::Stale(_)
    );
    footprint.lock(take_pid_file(&pid_path, &me)?);
    refuse_if_held_elsewhere(&sup.runtime_dir)?;

    let listener = bind(&sup.socket, open_to)?;
    // The HTTP listener is bound before anything else is made, so that an address in use
    // is refused with the host untouched but for the socket.
    let http = match sup.http {
        None => None,
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .map_err(|source| StartError::Http { addr, source })?;
            let token = |name: &str| {
                ward_sys::token::load_or_create(&sup.state_dir.join(name)).map_err(|source| {
                    StartError::Os {
                        what: "cannot read or make the HTTP listener's tokens",
                        source,
                    }
                })
            };
            let tokens = crate::http::Tokens {
                full: token("http.token")?,
                read: token("http.read.token")?,
            };
            Some((listener, tokens))
        }
    };
    footprint
        .socket(&sup.socket)
        .map_err(|source| StartError::Socket {
            path: sup.socket.clone(),
            source,
        })?;

    let cgroups = cgroups(sup.cgroup, &sup.state_dir)?;
    if let Some(driver) = &cgroups {
        footprint.cgroup(driver);
    }

    ward_sys::become_subreaper().map_err(|source| StartError::Os {
        what: "cannot become a child subreaper",
        source,
    })?;

    footprint.journal(&sup.journal());
    let (journal, repaired) = open_journal(sup)?;
    if sup.cgroup_favordynmods && cgroups.is_some() {
        favor_dynmods();
    }
    Ok(Prepared {
        listener,
        http,
        journal,
        repaired,
        previous_crashed,
        cgroups,
        open_to,
    })
}

/// Refuses the start while a recorded service still runs under another live ward
/// daemon (one that lost its PID file): adopting it would give it two supervisors.
fn refuse_if_held_elsewhere(runtime_dir: &Path) -> Result<(), StartError> {
    use ward_core::ownership::{RecordedRun, held_elsewhere};
    let boot = ward_sys::identity::boot_id().ok();
    let runs: Vec<RecordedRun> = crate::persist::all(runtime_dir)
        .into_iter()
        .filter_map(|(unit, record)| {
            let main = record.main?;
            // A run of an earlier boot cannot still run.
            if boot.as_deref() != Some(main.boot_id.as_str()) {
                return None;
            }
            let now = ward_sys::identity::read_stat(main.pid).ok();
            let parent = now.as_ref().map(|s| s.ppid);
            let parent_is_ward = parent
                .and_then(|p| ward_sys::identity::read_stat(p).ok())
                .is_some_and(|s| s.comm == "ward");
            Some(RecordedRun {
                unit,
                pid: main.pid,
                recorded_start: main.start_time,
                start_now: now.map(|s| s.start_time),
                parent,
                parent_is_ward,
            })
        })
        .collect();
    match held_elsewhere(&runs, ward_sys::own_pid()) {
        Some(run) => Err(StartError::HeldElsewhere {
            unit: run.unit.clone(),
            pid: run.pid,
            daemon: run.parent.unwrap_or_default(),
        }),
        None => Ok(()),
    }
}

/// How long `ward up` waits for the lock of a daemon that is already dead.
const DEAD_HOLDER_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Takes the daemon's PID file. A daemon killed while it was forking leaves its lock with
/// the child until that child execs (an instant); when the PID the file names is gone,
/// wait for that instant to pass instead of refusing.
fn take_pid_file(path: &Path, me: &PidRecord) -> Result<HeldPidFile, StartError> {
    let deadline = std::time::Instant::now() + DEAD_HOLDER_WAIT;
    loop {
        match HeldPidFile::create(path, me) {
            Ok(lock) => return Ok(lock),
            Err(PidFileError::Held { path, holder }) => {
                let dead = holder
                    .parse::<u32>()
                    .is_ok_and(|pid| !ward_sys::identity::ProcState::of(pid).is_alive());
                if !dead || std::time::Instant::now() >= deadline {
                    return Err(StartError::Locked { path, holder });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(other) => return Err(StartError::PidFile(other)),
        }
    }
}

/// Opens the journal; a damaged one, or one that vanished while backups remain, is
/// repaired first, and the repair is reported, never silent.
fn open_journal(
    sup: &ward_core::config::SupervisorConfig,
) -> Result<(ward_store::Journal, Option<ward_store::RepairReport>), StartError> {
    let path = sup.journal();
    let retention = ward_store::Retention {
        keep_days: sup.journal_keep_days,
        keep_rows: sup.journal_keep_rows,
    };
    let mut repaired = None;
    if !path.exists() && !ward_store::backups(&path).is_empty() {
        let report = ward_store::repair(&path, "journal.db was missing while backups exist")
            .map_err(StartError::Journal)?;
        repaired = Some(report);
    }
    let journal = match ward_store::Journal::open_with(&path, retention) {
        Ok(j) => j,
        Err(e) if ward_store::is_damage(&e) => {
            let report = ward_store::repair(&path, &format!("it failed its check: {e}"))
                .map_err(StartError::Journal)?;
            repaired = Some(report);
            ward_store::Journal::open_with(&path, retention).map_err(StartError::Journal)?
        }
        Err(e) => return Err(StartError::Journal(e)),
    };
    if let Some(report) = &repaired {
        tracing::error!("journal repaired: {report}");
        if report.is_empty() {
            tracing::error!("the repaired journal is empty: the history before this start is lost");
        }
        journal.record(ward_store::Record::Daemon {
            at_ms: ward_store::now_ms(),
            what: "journal repaired".into(),
            detail: report.to_string(),
        });
    }
    Ok((journal, repaired))
}

/// The cgroup driver for `mode`; `auto` falls back from v2 to v1 to none, with a warning.
fn cgroups(mode: CgroupMode, state_dir: &Path) -> Result<Option<CgroupDriver>, StartError> {
    let id = state_id(state_dir);
    let (version, name) = match mode {
        CgroupMode::Off => return Ok(None),
        CgroupMode::Auto => (None, "auto"),
        CgroupMode::V2 => (Some(Version::V2), "v2"),
        CgroupMode::V1 => (Some(Version::V1), "v1"),
    };
    match CgroupDriver::detect(version, &id) {
        Ok(driver) => {
            tracing::info!(base = %driver.base().display(), version = ?driver.version(), "services get their own cgroups");
            Ok(Some(driver))
        }
        Err(e) if mode == CgroupMode::Auto => {
            tracing::warn!(error = %e, "no usable cgroup hierarchy; containing services by process tree");
            Ok(None)
        }
        Err(e) => Err(StartError::Cgroup {
            mode: name,
            reason: e.to_string(),
        }),
    }
}

/// `cgroup_favordynmods = true`: a machine that cannot have it still runs every service,
/// only with slower starts, so a refusal is a warning.
fn favor_dynmods() {
    use ward_sys::favordynmods::{Favor, favor_dynmods};
    match favor_dynmods() {
        Ok(Favor::AlreadyOn) => tracing::info!("the cgroup2 mount already favours dynamic changes"),
        Ok(Favor::TurnedOn) => {
            tracing::info!(
                "turned on favordynmods on the cgroup2 mount: services join their cgroups without waiting"
            )
        }
        Err(e) => tracing::warn!(error = %e, "cgroup_favordynmods: left as it is"),
    }
}

/// A short stable name for the state dir, so that two daemons on different state dirs get
/// different cgroups. FNV-1a: tiny, stable across releases, no dependency needed.
pub(crate) fn state_id(state_dir: &Path) -> String {
    let full = fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in full.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Binds the control socket with mode 0600. A socket file left by a crashed daemon is
/// removed: holding the lock proves no daemon of this state dir uses it, and nothing
/// answers on it. Anything else at the path (a regular file, a socket another program
/// listens on) is never removed: the start is refused.
pub(crate) fn bind(
    path: &Path,
    open_to: ward_core::access::Groups,
) -> Result<std::os::unix::net::UnixListener, StartError> {
    let err = |source| StartError::Socket {
        path: path.to_path_buf(),
        source,
    };
    let refuse = |kind, why: &str| err(std::io::Error::new(kind, why.to_string()));
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            match std::os::unix::net::UnixStream::connect(path) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    fs::remove_file(path).map_err(err)?
                }
                Ok(_) => {
                    return Err(refuse(
                        std::io::ErrorKind::AddrInUse,
                        "another program listens on it; stop that program, or choose another `socket`",
                    ));
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(_) => {
            return Err(refuse(
                std::io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way; move it or choose another `socket`",
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(err)?;
    // Ward's user alone; its group too with `api_group`; anyone with `api_readers`, since
    // one file has one group: the daemon then judges every peer itself (`access.rs`),
    // and records whom it refuses.
    let mode = match open_to {
        ward_core::access::Groups {
            readers: Some(_), ..
        } => 0o666,
        ward_core::access::Groups { ops: Some(gid), .. } => {
            std::os::unix::fs::chown(path, None, Some(gid)).map_err(err)?;
            0o660
        }
        _ => 0o600,
    };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

/// Tells `ward up -d` that the daemon answers now.
pub(crate) fn report_ready(ready: Option<File>) {
    if let Some(mut f) = ready {
        let _ = writeln!(f, "ok");
    }
}
