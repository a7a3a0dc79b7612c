//! One `[services.NAME]` table.

use super::command;
use super::fields::{Ctx, entries, item_at, key_at};
use super::model::{
    Backoff, DaemonExit, KillMode, Readiness, RestartPolicy, ServiceConfig, ServiceType,
    StartLimit, Strategy,
};
use super::tables;
use crate::Signal;
use crate::classify::CrashClass;
use std::collections::BTreeMap;
use std::time::Duration;
use toml_edit::{Item, Key, Value};

const KEYS: &[&str] = &[
    "command",
    "shell",
    "cwd",
    "env",
    "env_file",
    "inherit_env",
    "secret_env",
    "autostart",
    "trust_path",
    "umask",
    "no_new_privs",
    "user",
    "group",
    "groups",
    "capabilities",
    "private_tmp",
    "type",
    "success_exit_codes",
    "remain_after_exit",
    "schedule",
    "timezone",
    "overlap",
    "catch_up",
    "instances",
    "port_base",
    "restart",
    "backoff",
    "min_uptime",
    "start_limit",
    "stop_signal",
    "stop_timeout",
    "kill_mode",
    "pidfile",
    "on_daemon_exit",
    "rlimits",
    "memory_max",
    "pids_max",
    "cpu_max",
    "repair",
    "on_failure",
    "hook_timeout",
    "pre_start",
    "post_start",
    "pre_stop",
    "post_stop",
    "recovery",
    "confidence_floor",
    "data",
    "data_snapshots",
    "depends_on",
    "ready",
    "health",
    "watchdog",
];

const READINESS: &[(&str, Readiness)] = &[
    ("started", Readiness::Started),
    ("running", Readiness::Running),
    ("notify", Readiness::Notify),
    ("healthy", Readiness::Healthy),
];

pub(super) const DAEMON_EXIT: &[(&str, DaemonExit)] =
    &[("keep", DaemonExit::Keep), ("stop", DaemonExit::Stop)];

pub(super) const RESTART: &[(&str, RestartPolicy)] = &[
    ("always", RestartPolicy::Always),
    ("on-failure", RestartPolicy::OnFailure),
    ("never", RestartPolicy::Never),
];

pub(super) const KILL_MODES: &[(&str, KillMode)] =
    &[("tree", KillMode::Tree), ("main", KillMode::Main)];

/// Longest service name: it becomes part of file names, cgroup names and log lines.
const MAX_NAME: usize = 64;

/// Most instances of one service; more is almost surely a typo.
const MAX_INSTANCES: i64 = 1024;

/// Checks a service name: it names log files and cgroups, and `.` is kept for instances.
pub(crate) fn check_name(ctx: &mut Ctx<'_>, key: &Key) -> bool {
    let name = key.get();
    let problem = if name.is_empty() {
        Some("a service name must not be empty".to_string())
    } else if name.len() > MAX_NAME {
        Some(format!(
            "service name `{name}` is longer than {MAX_NAME} characters"
        ))
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        Some(format!(
            "invalid service name `{name}`: it must start with a letter or digit"
        ))
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Some(format!("invalid service name `{name}`"))
    } else {
        None
    };
    match problem {
        Some(message) => {
            let hint = "use ASCII letters, digits, `-` and `_` (a `.` is reserved for \
                        instances such as `web.0`)";
            ctx.error(key_at(key), message, Some(hint.to_string()));
            false
        }
        None => true,
    }
}

/// Reads one service table; `None` when it has a problem that leaves nothing to run.
pub(crate) fn parse(ctx: &mut Ctx<'_>, name: &str, item: &Item) -> Option<ServiceConfig> {
    let place = format!("in [services.{name}]");
    let table = ctx.table(&format!("services.{name}"), item)?;

    // `shell` changes how `command` is read, so it is looked up first.
    let shell = table
        .get("shell")
        .and_then(|item| ctx.boolean("shell", item))
        .unwrap_or(false);

    let mut command = None;
    let mut saw_command = false;
    let mut cwd = ctx.base.clone();
    let mut env = BTreeMap::new();
    let mut env_file = Vec::new();
    let mut inherit_env = Vec::new();
    let mut secret_env = Vec::new();
    let mut autostart = true;
    let mut trust_path = false;
    let mut umask = 0o022;
    let mut no_new_privs = true;
    let mut run_as = super::model::RunAs::default();
    let mut user_at = None;
    let mut capabilities = None;
    let mut private_tmp = false;
    let mut task = super::task::TaskKeys::default();
    let mut instances = 1;
    let mut port_base = None;
    let mut port_base_at = 0;
    let mut restart = None;
    let mut restart_at = 0;
    let mut backoff = Backoff::default();
    let mut min_uptime = Duration::from_secs(1);
    let mut start_limit = StartLimit::default();
    let mut stop_signal = Signal::TERM;
    let mut stop_timeout = Duration::from_secs(10);
    let mut kill_mode = KillMode::Tree;
    let mut pidfile = None;
    let mut on_daemon_exit = DaemonExit::Keep;
    let mut rlimits = super::model::Rlimits::default();
    let mut memory_max = None;
    let mut pids_max = None;
    let mut cpu_max = None;
    let mut repair = None;
    let mut on_failure = None;
    let mut hook_timeout = Duration::from_secs(30);
    let mut lifecycle = super::model::Lifecycle::default();
    let mut recovery = BTreeMap::new();
    let mut recovery_at = None;
    let mut confidence_floor = None;
    let mut data = Vec::new();
    let mut data_snapshots = 3;
    let mut depends_on = Vec::new();
    let mut backoff_at = 0;
    let mut ready = None;
    let mut ready_at = 0;
    let mut health = None;
    let mut watchdog = None;

    for (key, value) in entries(table) {
        match key.get() {
            "command" => {
                saw_command = true;
                command = command::parse(ctx, value, shell);
            }
            "shell" => {}
            "cwd" => cwd = ctx.path("cwd", value).unwrap_or(cwd),
            "env" => env = tables::env(ctx, value),
            "env_file" => env_file = env_files(ctx, value),
            "inherit_env" => inherit_env = names(ctx, "inherit_env", value),
            "secret_env" => secret_env = names(ctx, "secret_env", value),
            "autostart" => autostart = ctx.boolean("autostart", value).unwrap_or(autostart),
            "trust_path" => trust_path = ctx.boolean("trust_path", value).unwrap_or(trust_path),
            "umask" => umask = umask_value(ctx, value).unwrap_or(umask),
            "no_new_privs" => {
                no_new_privs = ctx.boolean("no_new_privs", value).unwrap_or(no_new_privs)
            }
            "user" => {
                user_at = Some(item_at(value));
                run_as.user = super::confine::account(ctx, "user", value);
            }
            "group" => run_as.group = super::confine::account(ctx, "group", value),
            "groups" => run_as.groups = super::confine::groups(ctx, value),
            "capabilities" => capabilities = super::confine::capabilities(ctx, value),
            "private_tmp" => private_tmp = ctx.boolean("private_tmp", value).unwrap_or(private_tmp),
            "instances" => {
                if let Some(n) = ctx.integer("instances", value, 1, MAX_INSTANCES) {
                    instances = u32::try_from(n).unwrap_or(1);
                }
            }
            "port_base" => {
                port_base_at = item_at(value);
                port_base = ctx.integer("port_base", value, 1, 65535).map(|n| n as u16);
            }
            "restart" => {
                restart_at = item_at(value);
                restart = ctx.choice("restart", value, RESTART).or(restart);
            }
            "backoff" => {
                backoff_at = item_at(value);
                backoff = tables::backoff(ctx, value, &format!("in [services.{name}.backoff]"))
            }
            "min_uptime" => min_uptime = ctx.duration("min_uptime", value).unwrap_or(min_uptime),
            "start_limit" => {
                start_limit =
                    tables::start_limit(ctx, value, &format!("in [services.{name}.start_limit]"));
            }
            "stop_signal" => {
                if let Some(s) = signal(ctx, value) {
                    stop_signal = s;
                }
            }
            "stop_timeout" => {
                stop_timeout = ctx.duration("stop_timeout", value).unwrap_or(stop_timeout);
            }
            "kill_mode" => {
                kill_mode = ctx
                    .choice("kill_mode", value, KILL_MODES)
                    .unwrap_or(kill_mode);
            }
            "pidfile" => pidfile = ctx.path("pidfile", value),
            "memory_max" => match ctx.size("memory_max", value) {
                Some(b) if b < 1 << 20 => {
                    let message = format!(
                        "`memory_max` must be at least 1MiB, found {}",
                        ctx.source(value)
                    );
                    ctx.error(item_at(value), message, None);
                }
                b => memory_max = b,
            },
            "cpu_max" => cpu_max = cpus(ctx, value),
            "repair" => repair = hook(ctx, "repair", value),
            "on_failure" => on_failure = hook(ctx, "on_failure", value),
            "pre_start" => lifecycle.pre_start = hook(ctx, "pre_start", value),
            "post_start" => lifecycle.post_start = hook(ctx, "post_start", value),
            "pre_stop" => lifecycle.pre_stop = hook(ctx, "pre_stop", value),
            "post_stop" => lifecycle.post_stop = hook(ctx, "post_stop", value),
            "hook_timeout" => {
                hook_timeout = ctx.duration("hook_timeout", value).unwrap_or(hook_timeout);
            }
            "data" => data = data_paths(ctx, value),
            "data_snapshots" => {
                if let Some(n) = ctx.integer("data_snapshots", value, 1, 100) {
                    data_snapshots = n as u32;
                }
            }
            "confidence_floor" => match ctx.number("confidence_floor", value) {
                Some(f) if (0.0..=1.0).contains(&f) => confidence_floor = Some(f),
                Some(_) => {
                    let message = format!(
                        "`confidence_floor` must be between 0 and 1, found {}",
                        ctx.source(value)
                    );
                    ctx.error(item_at(value), message, None);
                }
                None => {}
            },
            "recovery" => {
                recovery_at = Some(item_at(value));
                recovery = recovery_table(ctx, value, name);
            }
            "pids_max" => {
                pids_max = ctx
                    .integer("pids_max", value, 1, 4_194_304)
                    .map(|n| n as u64);
            }
            "rlimits" => {
                rlimits = tables::rlimits(ctx, value, &format!("in [services.{name}.rlimits]"))
            }
            "depends_on" => depends_on = super::deps::parse(ctx, value),
            "ready" => {
                ready_at = item_at(value);
                ready = ctx.choice("ready", value, READINESS);
            }
            "health" => health = super::health::parse(ctx, value, name),
            "watchdog" => match ctx.duration("watchdog", value) {
                Some(d) if d < Duration::from_millis(10) => {
                    let message = format!(
                        "`watchdog` must be at least 10ms, found {}",
                        ctx.source(value)
                    );
                    let hint = "the interval within which the service must send WATCHDOG=1, \
                                such as \"5s\"";
                    ctx.error(item_at(value), message, Some(hint.to_string()));
                }
                d => watchdog = d,
            },
            "on_daemon_exit" => {
                on_daemon_exit = ctx
                    .choice("on_daemon_exit", value, DAEMON_EXIT)
                    .unwrap_or(on_daemon_exit);
            }
            other if task.read(ctx, other, value) => {}
            other => {
                // A misspelt `command` is reported once, as the typo it is.
                saw_command |= super::suggest::did_you_mean(other, ["command"]).is_some();
                ctx.unknown_key(key, &place, KEYS);
            }
        }
    }

    if let Some(at) = recovery_at
        && repair.is_none()
        && recovery.values().any(|s| *s == Strategy::Repair)
    {
        ctx.error(
            at,
            format!("[services.{name}] recovery asks for `repair`, but there is no `repair` hook"),
            Some(
                "add repair = [\"/path/to/check\", \"--fix\"], or choose backoff or give_up".into(),
            ),
        );
    }
    if let Some(at) = recovery_at
        && data.is_empty()
        && recovery.values().any(|s| *s == Strategy::Restore)
    {
        ctx.error(
            at,
            format!("[services.{name}] recovery asks for `restore`, but there are no `data` paths"),
            Some("add data = [\"var/db\"], the paths whose snapshots restore puts back".into()),
        );
    }
    if backoff.initial.is_zero() && min_uptime.is_zero() {
        ctx.error(
            backoff_at,
            format!(
                "[services.{name}] restarts at once (backoff.initial = 0s) and counts no run \
                 as a failed start (min_uptime = 0s): a program that exits at once would \
                 restart without end"
            ),
            Some(
                "keep min_uptime above 0s (the default is 1s) so the start limit stops a \
                 crash loop, or give backoff.initial a delay such as \"100ms\""
                    .into(),
            ),
        );
    }
    if ready == Some(Readiness::Healthy) && health.is_none() {
        ctx.error(
            ready_at,
            format!("[services.{name}] is ready when `healthy`, but has no `health` check"),
            Some("add health = { command = \"/path/to/probe\" } or health = { tcp = \"127.0.0.1:8080\" }, or choose ready = \"started\"".into()),
        );
    }
    if let Some(at) = user_at
        && (ready == Some(Readiness::Notify) || watchdog.is_some())
    {
        ctx.error(
            at,
            format!(
                "[services.{name}] runs as another user, but `ready = \"notify\"` and \
                 `watchdog` need ward's notify socket, which only ward's own user may reach"
            ),
            Some(
                "let a `health` check say when it is ready (ready = \"healthy\"), or run it \
                 as ward's user"
                    .into(),
            ),
        );
    }
    if let Some(base) = port_base
        && u32::from(base) + instances - 1 > 65535
    {
        ctx.error(
            port_base_at,
            format!(
                "[services.{name}] port_base {base} with {instances} instances reaches port {}, past 65535",
                u32::from(base) + instances - 1
            ),
            Some("lower port_base or the number of instances".into()),
        );
    }
    if port_base.is_some() && env.contains_key("PORT") {
        ctx.error(
            port_base_at,
            format!(
                "[services.{name}] sets `PORT` in `env` and has `port_base`, which sets it too"
            ),
            Some("keep one of them".into()),
        );
    }
    if private_tmp && cwd.starts_with("/tmp") {
        ctx.error(
            item_at(item),
            format!(
                "[services.{name}] works in /tmp ({}), which `private_tmp = true` hides from it",
                cwd.display()
            ),
            Some("set `cwd` to a directory outside /tmp, such as cwd = \"/\"".into()),
        );
    }
    let (kind, schedule) = task.finish(
        ctx,
        name,
        table,
        restart.map(|r| (r, restart_at)),
        ready.map(|_| ready_at),
    );
    let env_file_refs = super::variables::check(
        ctx,
        name,
        table,
        shell,
        &super::variables::Declared {
            env: &env,
            inherit_env: &inherit_env,
            port_base: port_base.is_some(),
            env_file: !env_file.is_empty(),
        },
    );
    // A task is not restarted unless asked; a service is, whatever its end.
    let restart = restart.unwrap_or(match kind {
        ServiceType::Oneshot => RestartPolicy::Never,
        ServiceType::Simple => RestartPolicy::Always,
    });
    let ready = ready.unwrap_or(if health.is_some() {
        Readiness::Healthy
    } else {
        Readiness::Started
    });
    if !saw_command {
        let hint = "add a line such as command = [\"/usr/bin/myapp\", \"--port\", \"8080\"]";
        ctx.error(
            item_at(item),
            format!("[services.{name}] has no `command`"),
            Some(hint.to_string()),
        );
    }
    Some(ServiceConfig {
        name: name.to_string(),
        command: command?,
        shell,
        cwd,
        env,
        env_file,
        inherit_env,
        secret_env,
        autostart,
        trust_path,
        umask,
        no_new_privs,
        run_as: super::Rare::new(run_as),
        credentials: None,
        capabilities,
        private_tmp,
        kind,
        success_exit_codes: task.success_exit_codes,
        remain_after_exit: task.remain_after_exit(),
        env_file_refs,
        schedule: schedule.map(Box::new),
        instances,
        port_base,
        restart,
        backoff,
        min_uptime,
        start_limit,
        stop_signal,
        stop_timeout,
        kill_mode,
        pidfile,
        on_daemon_exit,
        rlimits: super::Rare::new(rlimits),
        memory_max,
        pids_max,
        cpu_max,
        repair,
        on_failure,
        lifecycle: super::Rare::new(lifecycle),
        hook_timeout,
        recovery,
        confidence_floor,
        data,
        data_snapshots,
        depends_on,
        ready,
        health: health.map(Box::new),
        watchdog,
    })
}

/// `stop_signal = "TERM"`, `"SIGINT"` or a number.
fn signal(ctx: &mut Ctx<'_>, item: &Item) -> Option<Signal> {
    let parsed = if let Some(n) = item.as_integer() {
        i32::try_from(n)
            .ok()
            .and_then(Signal::from_number)
            .ok_or_else(|| format!("`stop_signal` {n} is not a signal number"))
    } else if let Some(text) = item.as_str() {
        Signal::parse(text).map_err(|_| format!("unknown signal \"{text}\" for `stop_signal`"))
    } else {
        ctx.wrong_type("stop_signal", "a signal name such as \"TERM\"", item, None);
        return None;
    };
    match parsed {
        Ok(Signal::KILL) => {
            let hint = "stop_signal is the polite request; SIGKILL follows by itself after \
                        `stop_timeout`";
            ctx.error(
                item_at(item),
                "`stop_signal` must not be KILL",
                Some(hint.to_string()),
            );
            None
        }
        Ok(s) if s.number() == 19 => {
            let hint = "SIGSTOP only pauses a process (ward follows every stop signal with \
                        SIGCONT); use TERM, INT, QUIT or HUP";
            ctx.error(
                item_at(item),
                "`stop_signal` must not be STOP",
                Some(hint.to_string()),
            );
            None
        }
        Ok(s) => Some(s),
        Err(message) => {
            let upper = item
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_uppercase();
            let full = if upper.starts_with("SIG") {
                upper
            } else {
                format!("SIG{upper}")
            };
            let names: Vec<&str> = Signal::names().collect();
            let hint = super::suggest::hint_for(&full, &names);
            ctx.error(item_at(item), message, Some(hint));
            None
        }
    }
}

/// `cpu_max = "50%"` (of one CPU) or a number of CPUs (`1.5`, `"2"`).
fn cpus(ctx: &mut Ctx<'_>, item: &Item) -> Option<f64> {
    let value = if let Some(text) = item.as_str() {
        let t = text.trim();
        let parsed = match t.strip_suffix('%') {
            Some(p) => p.trim().parse::<f64>().ok().map(|p| p / 100.0),
            None => t.parse::<f64>().ok(),
        };
        let Some(v) = parsed else {
            let message = format!("invalid value \"{text}\" for `cpu_max`");
            let hint = "write a share of one CPU such as \"50%\", or a number of CPUs such as 1.5";
            ctx.error(item_at(item), message, Some(hint.to_string()));
            return None;
        };
        v
    } else {
        ctx.number("cpu_max", item)?
    };
    if !(0.01..=1024.0).contains(&value) {
        let message = format!(
            "`cpu_max` must be between 1% and 1024 CPUs, found {}",
            ctx.source(item)
        );
        ctx.error(item_at(item), message, None);
        return None;
    }
    Some(value)
}

/// A hook's argv: an array, or a string split like `command` (never given to a shell).
fn hook(ctx: &mut Ctx<'_>, name: &str, item: &Item) -> Option<Vec<String>> {
    let argv = command::parse(ctx, item, false)?;
    if argv.is_empty() {
        ctx.error(item_at(item), format!("`{name}` must not be empty"), None);
        return None;
    }
    Some(argv)
}

const STRATEGIES: &[(&str, Strategy)] = &[
    ("backoff", Strategy::Backoff),
    ("repair", Strategy::Repair),
    ("restore", Strategy::Restore),
    ("give_up", Strategy::GiveUp),
];

/// `data = ["var/db", "state.json"]`: paths relative to the config file's directory.
/// `umask = "027"`: octal digits as a string, as `umask` takes them.
fn umask_value(ctx: &mut Ctx<'_>, item: &Item) -> Option<u32> {
    let text = ctx.string("umask", item)?.to_string();
    match u32::from_str_radix(&text, 8) {
        Ok(v) if v <= 0o777 && !text.is_empty() => Some(v),
        _ => {
            ctx.error(
                item_at(item),
                format!(
                    "`umask` must be octal digits from 000 to 777, found {}",
                    ctx.source(item)
                ),
                Some("such as \"027\" (group may read, others nothing)".into()),
            );
            None
        }
    }
}

/// `env_file = "web.env"` or `["base.env", "web.env"]`, relative to the config file.
fn env_files(ctx: &mut Ctx<'_>, item: &Item) -> Vec<std::path::PathBuf> {
    let values: Vec<&Value> = match item {
        Item::Value(v @ Value::String(_)) => vec![v],
        Item::Value(Value::Array(a)) => a.iter().collect(),
        _ => {
            ctx.wrong_type("env_file", "a path or an array of paths", item, None);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for value in values {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_str() {
            Some(p) if !p.is_empty() && !p.contains('\0') => out.push(ctx.base.join(p)),
            _ => ctx.error(
                at,
                "`env_file` entries must be non-empty path strings",
                None,
            ),
        }
    }
    out
}

/// `inherit_env = ["HTTP_PROXY", …]`: names of the daemon's variables a service gets;
/// `secret_env = ["DATABASE_URL"]`: names of variables whose values are secrets.
fn names(ctx: &mut Ctx<'_>, key: &str, item: &Item) -> Vec<String> {
    let Some(array) = item.as_array() else {
        ctx.wrong_type(key, "an array of variable names", item, None);
        return Vec::new();
    };
    let mut out = Vec::new();
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_str() {
            Some(n) if super::tables::RESERVED_ENV.contains(&n) => ctx.error(
                at,
                format!("`{n}` is set by ward and cannot be named in `{key}`"),
                None,
            ),
            Some(n) if crate::expand::is_name(n) => out.push(n.to_string()),
            _ => ctx.error(
                at,
                format!("`{key}` entries must be variable names"),
                Some("a name starts with a letter or `_` and holds only ASCII letters, digits and `_`".into()),
            ),
        }
    }
    out
}

fn data_paths(ctx: &mut Ctx<'_>, item: &Item) -> Vec<std::path::PathBuf> {
    let Some(array) = item.as_array() else {
        ctx.wrong_type("data", "an array of paths", item, None);
        return Vec::new();
    };
    let mut out = Vec::new();
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_str() {
            Some(p) if !p.is_empty() && !p.contains('\0') => out.push(ctx.base.join(p)),
            _ => ctx.error(at, "`data` entries must be non-empty path strings", None),
        }
    }
    out
}

/// `recovery = { segfault = "repair", crash_loop = "give_up" }`: keys are crash classes.
fn recovery_table(ctx: &mut Ctx<'_>, item: &Item, service: &str) -> BTreeMap<String, Strategy> {
    let mut out = BTreeMap::new();
    let Some(table) = ctx.table("recovery", item) else {
        return out;
    };
    let classes: Vec<&str> = CrashClass::ALL
        .iter()
        .filter(|c| c.is_crash())
        .map(|c| c.as_str())
        .collect();
    for (key, value) in entries(table) {
        if !classes.contains(&key.get()) {
            ctx.unknown_key(key, &format!("in [services.{service}.recovery]"), &classes);
            continue;
        }
        if let Some(s) = ctx.choice(&format!("recovery.{}", key.get()), value, STRATEGIES) {
            out.insert(key.get().to_string(), s);
        }
    }
    out
}
