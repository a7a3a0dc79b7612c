//! A service's sub-tables: `env`, `backoff` and `start_limit`.

use super::fields::{Ctx, entries, item_at, key_at};
use super::model::{Backoff, Rlimits, StartLimit};
use crate::duration::format_duration;
use std::collections::BTreeMap;
use toml_edit::{Item, Value};

const BACKOFF_KEYS: &[&str] = &["initial", "max", "factor", "jitter", "reset_after"];
const START_LIMIT_KEYS: &[&str] = &["burst", "interval"];
const RLIMIT_KEYS: &[&str] = &[
    "cpu", "fsize", "nofile", "core", "nproc", "memlock", "as", "stack",
];

/// `env = { NAME = "value" }`. Integers and booleans are accepted and written out in
/// decimal and as `true`/`false`; anything else must be quoted.
pub(crate) fn env(ctx: &mut Ctx<'_>, item: &Item) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(table) = ctx.table("env", item) else {
        return out;
    };
    for (key, value) in entries(table) {
        let name = key.get();
        if !crate::expand::is_name(name) {
            let message = format!("invalid environment variable name `{name}`");
            let hint = "a name starts with a letter or `_` and holds only ASCII letters, \
                        digits and `_`";
            ctx.error(key_at(key), message, Some(hint.to_string()));
            continue;
        }
        if RESERVED_ENV.contains(&name) {
            let message = format!("`{name}` is set by ward and cannot be overridden in `env`");
            let hint = "ward uses it to find the service's processes; choose another name";
            ctx.error(key_at(key), message, Some(hint.to_string()));
            continue;
        }
        let label = format!("env.{name}");
        let text = match value {
            Item::Value(Value::Integer(n)) => Some(n.value().to_string()),
            Item::Value(Value::Boolean(b)) => Some(b.value().to_string()),
            Item::Value(Value::String(_)) => ctx.string(&label, value).map(str::to_string),
            Item::Value(Value::Float(_) | Value::Datetime(_)) => {
                // A secret's value is not repeated, not even in a hint.
                let shown = if crate::secrets::is_secret(name, &[]) {
                    "…"
                } else {
                    ctx.source(value)
                };
                let hint = format!("quote it: {name} = \"{shown}\"");
                ctx.wrong_type(&label, "a string", value, Some(hint));
                None
            }
            _ => {
                ctx.wrong_type(&label, "a string", value, None);
                None
            }
        };
        if let Some(text) = text {
            out.insert(name.to_string(), text);
        }
    }
    out
}

/// The variables ward sets itself, which a service may not override.
pub(crate) const RESERVED_ENV: &[&str] = &[
    "WARD_UNIT",
    "WARD_SERVICE",
    "WARD_INSTANCE",
    "WARD_HOOK",
    "WARD_UNIT_NAME",
    "WARD_CLASS",
    "WARD_SEVERITY",
    "WARD_SUMMARY",
    "WARD_EVIDENCE",
    "WARD_EXIT",
];

/// At most 40 characters of `text`, for quoting it back in a message.
pub(crate) fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// `backoff = { initial, max, factor, jitter, reset_after }`; `place` names the table for
/// unknown-key messages.
pub(crate) fn backoff(ctx: &mut Ctx<'_>, item: &Item, place: &str) -> Backoff {
    let mut b = Backoff::default();
    let Some(table) = ctx.table("backoff", item) else {
        return b;
    };
    let (mut initial_at, mut max_at) = (None, None);
    for (key, value) in entries(table) {
        match key.get() {
            // Zero is allowed (restart at once); the service check requires a non-zero
            // `min_uptime` with it, so the start limit still stops a crash loop.
            "initial" => {
                if let Some(d) = ctx.duration("backoff.initial", value) {
                    b.initial = d;
                    initial_at = Some(item_at(value));
                }
            }
            "max" => {
                if let Some(d) = ctx.duration("backoff.max", value) {
                    b.max = d;
                    max_at = Some(item_at(value));
                }
            }
            "factor" => match ctx.number("backoff.factor", value) {
                Some(f) if f >= 1.0 => b.factor = f,
                Some(_) => {
                    let message = format!(
                        "`backoff.factor` must be at least 1, found {}",
                        ctx.source(value)
                    );
                    let hint = "1 keeps every delay the same; 2 doubles it after each failure";
                    ctx.error(item_at(value), message, Some(hint.to_string()));
                }
                None => {}
            },
            "jitter" => match ctx.number("backoff.jitter", value) {
                Some(j) if (0.0..=1.0).contains(&j) => b.jitter = j,
                Some(_) => {
                    let message = format!(
                        "`backoff.jitter` must be between 0 and 1, found {}",
                        ctx.source(value)
                    );
                    let hint = "it is a fraction of the delay: 0.1 spreads each delay by up to 10%";
                    ctx.error(item_at(value), message, Some(hint.to_string()));
                }
                None => {}
            },
            "reset_after" => {
                if let Some(d) = ctx.duration("backoff.reset_after", value) {
                    b.reset_after = d;
                }
            }
            _ => ctx.unknown_key(key, place, BACKOFF_KEYS),
        }
    }
    if b.initial > b.max {
        let at = initial_at.or(max_at).unwrap_or_else(|| item_at(item));
        let message = format!(
            "`backoff.initial` ({}) is longer than `backoff.max` ({})",
            format_duration(b.initial),
            format_duration(b.max)
        );
        let hint = "the first delay cannot exceed the longest one: lower `initial` or raise `max`";
        ctx.error(at, message, Some(hint.to_string()));
    }
    b
}

/// `start_limit = { burst, interval }`; `place` names the table for unknown-key messages.
pub(crate) fn start_limit(ctx: &mut Ctx<'_>, item: &Item, place: &str) -> StartLimit {
    let mut limit = StartLimit::default();
    let Some(table) = ctx.table("start_limit", item) else {
        return limit;
    };
    for (key, value) in entries(table) {
        match key.get() {
            "burst" => {
                if let Some(n) = ctx.integer("start_limit.burst", value, 0, 10_000) {
                    limit.burst = u32::try_from(n).unwrap_or(limit.burst);
                }
            }
            "interval" => match ctx.duration("start_limit.interval", value) {
                Some(d) if d.is_zero() => {
                    let message = "`start_limit.interval` must be longer than 0s";
                    ctx.error(item_at(value), message, None);
                }
                Some(d) => limit.interval = d,
                None => {}
            },
            _ => ctx.unknown_key(key, place, START_LIMIT_KEYS),
        }
    }
    limit
}

/// `rlimits = { cpu = "30s", fsize = "1GiB", nofile = 4096, core = 0 }`.
pub(crate) fn rlimits(ctx: &mut Ctx<'_>, item: &Item, place: &str) -> Rlimits {
    let mut r = Rlimits::default();
    let Some(table) = ctx.table("rlimits", item) else {
        return r;
    };
    for (key, value) in entries(table) {
        match key.get() {
            "cpu" => match ctx.duration("rlimits.cpu", value) {
                Some(d) if d.is_zero() => {
                    let message =
                        "`rlimits.cpu` must be longer than 0s (it is rounded up to whole seconds)";
                    ctx.error(item_at(value), message, None);
                }
                // The kernel counts whole seconds: round up, never below what was asked.
                Some(d) => r.cpu = Some(d.as_secs() + u64::from(d.subsec_nanos() > 0)),
                None => {}
            },
            "fsize" => r.fsize = ctx.size("rlimits.fsize", value),
            "core" => r.core = ctx.size("rlimits.core", value),
            "nofile" => {
                if let Some(n) = ctx.integer("rlimits.nofile", value, 8, 1 << 20) {
                    r.nofile = Some(n as u64);
                }
            }
            "nproc" => {
                if let Some(n) = ctx.integer("rlimits.nproc", value, 1, 1 << 22) {
                    r.nproc = Some(n as u64);
                }
            }
            "memlock" => r.memlock = ctx.size("rlimits.memlock", value),
            "as" => r.r#as = ctx.size("rlimits.as", value),
            "stack" => r.stack = ctx.size("rlimits.stack", value),
            _ => ctx.unknown_key(key, place, RLIMIT_KEYS),
        }
    }
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_names() {
        for good in ["A", "_", "PATH", "my_var2", "_X1"] {
            assert!(crate::expand::is_name(good), "{good}");
        }
        for bad in ["", "1A", "A-B", "A.B", "É", "A B", "A="] {
            assert!(!crate::expand::is_name(bad), "{bad}");
        }
    }
}
