//! `[[hooks]]`: programs ward runs when events happen (a crash, a unit that failed, one
//! that turned unhealthy or recovered), for alerting.

use super::fields::{Ctx, entries, item_at};
use super::model::EventHook;
use std::time::Duration;
use toml_edit::Item;

const KEYS: &[&str] = &["on", "services", "command", "timeout", "queue"];

/// What `on` may name: an event kind, a state or health a unit enters, or `recovered`.
pub const TRIGGERS: &[&str] = &[
    "start",
    "exit",
    "crash",
    "recovery",
    "state",
    "health",
    "action",
    "reload",
    "daemon",
    "starting",
    "running",
    "stopping",
    "stopped",
    "exited",
    "backoff",
    "failed",
    "healthy",
    "unhealthy",
    "recovered",
];

/// Reads the `[[hooks]]` array of tables.
pub(crate) fn parse(ctx: &mut Ctx<'_>, item: &Item) -> Vec<EventHook> {
    let Some(array) = item.as_array_of_tables() else {
        ctx.wrong_type(
            "hooks",
            "an array of tables ([[hooks]])",
            item,
            Some("write each hook as a [[hooks]] table with `on` and `command`".into()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, table) in array.iter().enumerate() {
        let place = format!("in [[hooks]] #{}", i + 1);
        let mut on = Vec::new();
        let mut services = Vec::new();
        let mut command = None;
        let mut timeout = Duration::from_secs(30);
        let mut queue = 100;
        for (key, value) in entries(table) {
            match key.get() {
                "on" => on = triggers(ctx, value),
                "services" => services = super::deps::names(ctx, value),
                "command" => command = super::command::parse(ctx, value, false),
                "timeout" => timeout = ctx.duration("timeout", value).unwrap_or(timeout),
                "queue" => {
                    if let Some(n) = ctx.integer("queue", value, 1, 100_000) {
                        queue = n as u32;
                    }
                }
                _ => ctx.unknown_key(key, &place, KEYS),
            }
        }
        let at = table.span().map_or(0, |s| s.start);
        if on.is_empty() {
            ctx.error(
                at,
                format!("[[hooks]] #{} has no `on`", i + 1),
                Some("name the events it runs for, such as on = [\"crash\", \"failed\"]".into()),
            );
        }
        let Some(command) = command.filter(|c| !c.is_empty()) else {
            ctx.error(
                at,
                format!("[[hooks]] #{} has no `command`", i + 1),
                Some("such as command = [\"/usr/local/bin/page-me\"]".into()),
            );
            continue;
        };
        out.push(EventHook {
            index: i + 1,
            on,
            services,
            command,
            timeout,
            queue,
        });
    }
    out
}

fn triggers(ctx: &mut Ctx<'_>, item: &Item) -> Vec<String> {
    let Some(array) = item.as_array() else {
        ctx.wrong_type("on", "an array of event names", item, None);
        return Vec::new();
    };
    let mut out = Vec::new();
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_str() {
            Some(t) if TRIGGERS.contains(&t) => out.push(t.to_string()),
            Some(t) => {
                let hint = super::suggest::hint_for(t, TRIGGERS);
                ctx.error(at, format!("unknown event {t:?} in `on`"), Some(hint));
            }
            None => ctx.error(at, "`on` entries must be event names", None),
        }
    }
    out
}
