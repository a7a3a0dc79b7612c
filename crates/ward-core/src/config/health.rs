//! `health = { command = "...", interval, timeout, retries, start_period }`, or
//! `tcp = "host:port"` in place of `command`.

use super::command;
use super::fields::{Ctx, entries, item_at};
use super::model::{HealthCheck, Probe};
use std::time::Duration;
use toml_edit::Item;

const KEYS: &[&str] = &[
    "command",
    "tcp",
    "interval",
    "timeout",
    "retries",
    "start_period",
];

/// Reads a service's `health` table; `None` (with the problem reported) when unusable.
pub(crate) fn parse(ctx: &mut Ctx<'_>, item: &Item, service: &str) -> Option<HealthCheck> {
    let place = format!("in [services.{service}.health]");
    let table = ctx.table("health", item)?;
    let mut probes = Vec::new();
    // A probe named but unreadable is reported where it is, not again as missing.
    let mut named = false;
    let mut check = HealthCheck {
        probe: Probe::Tcp(String::new()),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
        retries: 3,
        start_period: Duration::ZERO,
    };
    for (key, value) in entries(table) {
        match key.get() {
            "command" => {
                named = true;
                if let Some(argv) = command::parse(ctx, value, false) {
                    probes.push(Probe::Command(argv));
                }
            }
            "tcp" => {
                named = true;
                if let Some(addr) = tcp_address(ctx, value) {
                    probes.push(Probe::Tcp(addr));
                }
            }
            "interval" => match ctx.duration("health.interval", value) {
                Some(d) if d < Duration::from_millis(10) => {
                    let message = format!(
                        "`health.interval` must be at least 10ms, found {}",
                        ctx.source(value)
                    );
                    ctx.error(item_at(value), message, None);
                }
                Some(d) => check.interval = d,
                None => {}
            },
            "timeout" => match ctx.duration("health.timeout", value) {
                Some(d) if d.is_zero() => {
                    ctx.error(item_at(value), "`health.timeout` must not be zero", None);
                }
                Some(d) => check.timeout = d,
                None => {}
            },
            "retries" => {
                if let Some(n) = ctx.integer("health.retries", value, 1, 1000) {
                    check.retries = n as u32;
                }
            }
            "start_period" => {
                if let Some(d) = ctx.duration("health.start_period", value) {
                    check.start_period = d;
                }
            }
            _ => ctx.unknown_key(key, &place, KEYS),
        }
    }
    let hint = "write health = { command = \"/path/to/probe\" } (exit 0 is healthy), or \
                health = { tcp = \"127.0.0.1:8080\" } (a connection is healthy)";
    match probes.len() {
        0 if named => None,
        0 => {
            ctx.error(
                item_at(item),
                format!("[services.{service}.health] names no probe"),
                Some(hint.to_string()),
            );
            None
        }
        1 => {
            check.probe = probes.remove(0);
            Some(check)
        }
        _ => {
            ctx.error(
                item_at(item),
                format!("[services.{service}.health] names both `command` and `tcp`"),
                Some("keep one of them".to_string()),
            );
            None
        }
    }
}

/// `"host:port"` or `"[v6]:port"`, with a port in 1..=65535.
fn tcp_address(ctx: &mut Ctx<'_>, item: &Item) -> Option<String> {
    let text = ctx.string("health.tcp", item)?;
    let ok = text
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if !ok {
        ctx.error(
            item_at(item),
            format!("invalid address \"{text}\" for `health.tcp`"),
            Some("write a host and a port, such as \"127.0.0.1:8080\" or \"[::1]:8080\"".into()),
        );
        return None;
    }
    Some(text.to_string())
}
