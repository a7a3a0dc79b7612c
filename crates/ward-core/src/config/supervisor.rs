//! The `[supervisor]` table.

use super::fields::{Ctx, entries, item_at};
use super::settings::{CgroupMode, SupervisorConfig};
use toml_edit::Item;

const KEYS: &[&str] = &[
    "state_dir",
    "runtime_dir",
    "log_dir",
    "socket",
    "log_max_size",
    "log_keep",
    "cgroup",
    "cgroup_favordynmods",
    "journal_keep_days",
    "journal_keep_rows",
    "journal_backup_interval",
    "sample_interval",
    "sample_while",
    "sample_pss",
    "journal_backups",
    "api_group",
    "api_readers",
    "http",
    "exit_when",
    "exit_code",
    "log_to",
];

/// Default `log_max_size`: 10 MiB.
const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
/// Smallest `log_max_size` accepted: one page, so rotation is not constant.
const MIN_LOG_MAX_SIZE: u64 = 4096;
/// Default `log_keep`.
const DEFAULT_LOG_KEEP: u32 = 5;

const CGROUP_MODES: &[(&str, CgroupMode)] = &[
    ("auto", CgroupMode::Auto),
    ("v2", CgroupMode::V2),
    ("v1", CgroupMode::V1),
    ("off", CgroupMode::Off),
];

/// Reads `[supervisor]` (absent means all defaults). Problems go to `ctx`; the result
/// holds defaults where a value was rejected.
pub(crate) fn parse(ctx: &mut Ctx<'_>, item: Option<&Item>) -> SupervisorConfig {
    let mut state_dir = None;
    let mut runtime_dir = None;
    let mut log_dir = None;
    let mut socket = None;
    let mut log_max_size = DEFAULT_LOG_MAX_SIZE;
    let mut log_keep = DEFAULT_LOG_KEEP;
    let mut cgroup = CgroupMode::Auto;
    let mut cgroup_favordynmods = false;
    let mut journal_keep_days = 30;
    let mut journal_keep_rows = 100_000;
    let mut journal_backup_interval = std::time::Duration::from_secs(3600);
    let mut sample_interval = std::time::Duration::from_secs(10);
    let mut sample_while = super::settings::SampleWhile::Watched;
    let mut http = None;
    let mut sample_pss = false;
    let mut journal_backups = 5;
    let mut api_group = None;
    let mut api_readers = None;
    let mut exit_when = crate::container::ExitWhen::Never;
    let mut exit_code = crate::container::ExitCode::FirstFailure;
    let mut log_to = super::settings::LogTo::Files;

    if let Some(table) = item.and_then(|item| ctx.table("supervisor", item)) {
        for (key, value) in entries(table) {
            match key.get() {
                "state_dir" => state_dir = ctx.path("state_dir", value),
                "runtime_dir" => runtime_dir = ctx.path("runtime_dir", value),
                "log_dir" => log_dir = ctx.path("log_dir", value),
                "socket" => socket = ctx.path("socket", value),
                "log_max_size" => {
                    log_max_size = size(ctx, value).unwrap_or(log_max_size);
                }
                "log_keep" => {
                    if let Some(n) = ctx.integer("log_keep", value, 0, 1000) {
                        log_keep = u32::try_from(n).unwrap_or(DEFAULT_LOG_KEEP);
                    }
                }
                "cgroup" => {
                    cgroup = ctx.choice("cgroup", value, CGROUP_MODES).unwrap_or(cgroup);
                }
                "cgroup_favordynmods" => {
                    cgroup_favordynmods = ctx
                        .boolean("cgroup_favordynmods", value)
                        .unwrap_or(cgroup_favordynmods);
                }
                "journal_keep_days" => {
                    if let Some(n) = ctx.integer("journal_keep_days", value, 1, 36_500) {
                        journal_keep_days = n as u32;
                    }
                }
                "journal_keep_rows" => {
                    if let Some(n) = ctx.integer("journal_keep_rows", value, 100, 100_000_000) {
                        journal_keep_rows = n as u32;
                    }
                }
                "journal_backup_interval" => {
                    journal_backup_interval = ctx
                        .duration("journal_backup_interval", value)
                        .unwrap_or(journal_backup_interval);
                }
                "sample_interval" => match ctx.duration("sample_interval", value) {
                    Some(d) if !d.is_zero() && d < std::time::Duration::from_millis(100) => {
                        let message = format!(
                            "`sample_interval` must be 0s (off) or at least 100ms, found {}",
                            ctx.source(value)
                        );
                        ctx.error(super::fields::item_at(value), message, None);
                    }
                    Some(d) => sample_interval = d,
                    None => {}
                },
                "journal_backups" => {
                    if let Some(n) = ctx.integer("journal_backups", value, 1, 1000) {
                        journal_backups = n as u32;
                    }
                }
                "api_group" => api_group = group_name(ctx, "api_group", value),
                "api_readers" => api_readers = group_name(ctx, "api_readers", value),
                "http" => http = http_address(ctx, value),
                "exit_when" => exit_when = exit_when_value(ctx, value).unwrap_or(exit_when),
                "exit_code" => {
                    if let Some(text) = ctx.string("exit_code", value) {
                        exit_code = match text {
                            "first-failure" => crate::container::ExitCode::FirstFailure,
                            name => crate::container::ExitCode::Service(name.to_string()),
                        };
                    }
                }
                "log_to" => {
                    log_to = ctx
                        .choice(
                            "log_to",
                            value,
                            &[
                                ("files", super::settings::LogTo::Files),
                                ("stdout", super::settings::LogTo::Stdout),
                            ],
                        )
                        .unwrap_or(log_to)
                }
                "sample_while" => {
                    sample_while = ctx
                        .choice(
                            "sample_while",
                            value,
                            &[
                                ("watched", super::settings::SampleWhile::Watched),
                                ("always", super::settings::SampleWhile::Always),
                            ],
                        )
                        .unwrap_or(sample_while)
                }
                "sample_pss" => sample_pss = ctx.boolean("sample_pss", value).unwrap_or(sample_pss),
                _ => ctx.unknown_key(key, "in [supervisor]", KEYS),
            }
        }
    }

    let state_dir = state_dir.unwrap_or_else(|| ctx.base.join(".ward"));
    SupervisorConfig {
        log_dir: log_dir.unwrap_or_else(|| state_dir.join("logs")),
        socket: socket.unwrap_or_else(|| state_dir.join("ward.sock")),
        runtime_dir: runtime_dir.unwrap_or_else(|| state_dir.clone()),
        state_dir,
        log_max_size,
        log_keep,
        cgroup,
        cgroup_favordynmods,
        journal_keep_days,
        journal_keep_rows,
        journal_backup_interval,
        journal_backups,
        sample_interval,
        sample_while,
        sample_pss,
        api_group,
        api_readers,
        http,
        exit_when,
        exit_code,
        log_to,
    }
}

/// `exit_when = "all" | "any" | "never"`, or an array of service names.
fn exit_when_value(ctx: &mut Ctx<'_>, item: &Item) -> Option<crate::container::ExitWhen> {
    use crate::container::ExitWhen;
    if let Some(text) = item.as_str() {
        return match text {
            "all" => Some(ExitWhen::All),
            "any" => Some(ExitWhen::Any),
            "never" => Some(ExitWhen::Never),
            other => {
                ctx.error(
                    item_at(item),
                    format!("invalid value \"{other}\" for `exit_when`"),
                    Some("use \"all\", \"any\", \"never\", or a list of services such as [\"migrate\"]".into()),
                );
                None
            }
        };
    }
    if item.is_array() {
        return Some(ExitWhen::Services(super::deps::names(ctx, item)));
    }
    ctx.wrong_type(
        "exit_when",
        "\"all\", \"any\", \"never\" or an array of service names",
        item,
        None,
    );
    None
}

/// `http = "127.0.0.1:9325"`: an IP address and a port; a host name would make the
/// address the daemon listens on depend on a resolver.
fn http_address(ctx: &mut Ctx<'_>, item: &Item) -> Option<std::net::SocketAddr> {
    let text = ctx.string("http", item)?;
    match text.parse::<std::net::SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            let message = format!("`http` must be an IP address and a port, found {text:?}");
            let hint = "such as \"127.0.0.1:9325\" (this machine only) or \"[::1]:9325\"";
            ctx.error(item_at(item), message, Some(hint.to_string()));
            None
        }
    }
}

/// A group's name, as `groupadd` accepts it.
fn group_name(ctx: &mut Ctx<'_>, key: &str, item: &Item) -> Option<String> {
    let name = ctx.string(key, item)?.to_string();
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        ctx.error(
            item_at(item),
            format!(
                "`{key}` must be the name of a group, found {}",
                ctx.source(item)
            ),
            Some("letters, digits, `_`, `-` and `.`, such as \"wardops\"".into()),
        );
        return None;
    }
    Some(name)
}

/// `log_max_size`: a size of at least one page.
fn size(ctx: &mut Ctx<'_>, item: &Item) -> Option<u64> {
    let bytes = ctx.size("log_max_size", item)?;
    if bytes < MIN_LOG_MAX_SIZE {
        let message = format!(
            "`log_max_size` must be at least {MIN_LOG_MAX_SIZE} bytes, found {}",
            ctx.source(item)
        );
        ctx.error(item_at(item), message, None);
        return None;
    }
    Some(bytes)
}
