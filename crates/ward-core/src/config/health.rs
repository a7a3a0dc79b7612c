//! `health = { command = "...", interval, timeout, retries, start_period }`, or
//! `tcp = "host:port"` or `http = "http://host:port/path"` in place of `command`.

use super::command;
use super::fields::{Ctx, entries, item_at};
use super::model::{HealthCheck, HttpProbe, Probe};
use std::time::Duration;
use toml_edit::Item;

const KEYS: &[&str] = &[
    "command",
    "tcp",
    "http",
    "expect_status",
    "expect_body",
    "headers",
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
    let mut expect_status = None;
    let mut expect_body = None;
    let mut headers = Vec::new();
    let mut http_at = None;
    for (key, value) in entries(table) {
        match key.get() {
            "http" => {
                named = true;
                http_at = Some(item_at(value));
                if let Some(probe) = http_url(ctx, value) {
                    probes.push(Probe::Http(probe));
                }
            }
            "expect_status" => expect_status = status_range(ctx, value),
            "expect_body" => {
                expect_body = ctx.string("health.expect_body", value).map(str::to_string)
            }
            "headers" => headers = header_table(ctx, value),
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
    let http_only = expect_status.is_some() || expect_body.is_some() || !headers.is_empty();
    if http_only && http_at.is_none() {
        ctx.error(
            item_at(item),
            format!(
                "[services.{service}.health] has `expect_status`, `expect_body` or `headers`, which only an `http` probe reads"
            ),
            Some("add http = \"http://127.0.0.1:8080/healthz\", or remove them".into()),
        );
    }
    for probe in &mut probes {
        if let Probe::Http(h) = probe {
            if let Some(range) = expect_status {
                h.expect_status = range;
            }
            h.expect_body = expect_body.clone();
            h.headers = headers.clone();
        }
    }
    let hint = "write health = { command = \"/path/to/probe\" } (exit 0 is healthy), \
                health = { tcp = \"127.0.0.1:8080\" } (a connection is healthy), or \
                health = { http = \"http://127.0.0.1:8080/healthz\" } (a 2xx or 3xx answer is healthy)";
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
                format!(
                    "[services.{service}.health] names more than one of `command`, `tcp` and `http`"
                ),
                Some("keep one of them".to_string()),
            );
            None
        }
    }
}

/// `"http://host[:port][/path]"`: plain HTTP, since a probe of a local service has no
/// use for TLS; a host name is resolved at each probe.
fn http_url(ctx: &mut Ctx<'_>, item: &Item) -> Option<HttpProbe> {
    let text = ctx.string("health.http", item)?.to_string();
    let bad = |ctx: &mut Ctx<'_>, why: &str| {
        ctx.error(
            item_at(item),
            format!("invalid URL \"{text}\" for `health.http`: {why}"),
            Some("such as \"http://127.0.0.1:8080/healthz\"".into()),
        );
        None
    };
    let Some(rest) = text.strip_prefix("http://") else {
        return if text.starts_with("https://") {
            bad(
                ctx,
                "only http:// is probed (a probe of a local service needs no TLS)",
            )
        } else {
            bad(ctx, "it must start with http://")
        };
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') || path.chars().any(char::is_whitespace) {
        return bad(ctx, "it needs a host, and no user or spaces");
    }
    // `[v6]:port`, `host:port`, or a host alone.
    let (host_part, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.ends_with(']')) => {
            match p.parse::<u16>() {
                Ok(port) if port > 0 => (h, port),
                _ => return bad(ctx, "its port must be from 1 to 65535"),
            }
        }
        _ => (authority, 80),
    };
    Some(HttpProbe {
        url: text.clone(),
        addr: format!("{host_part}:{port}"),
        host: authority.to_string(),
        path,
        expect_status: (200, 399),
        expect_body: None,
        headers: Vec::new(),
    })
}

/// `expect_status = 204`, or `"200-299"`.
fn status_range(ctx: &mut Ctx<'_>, item: &Item) -> Option<(u16, u16)> {
    let range = if let Some(n) = item.as_integer() {
        u16::try_from(n).ok().map(|n| (n, n))
    } else if let Some(text) = item.as_str() {
        text.split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .or_else(|| text.trim().parse().ok().map(|n| (n, n)))
    } else {
        None
    };
    match range {
        Some((a, b)) if (100..=599).contains(&a) && (a..=599).contains(&b) => Some((a, b)),
        _ => {
            ctx.error(
                item_at(item),
                format!(
                    "`health.expect_status` must be a status or a range of them from 100 to 599, found {}",
                    ctx.source(item)
                ),
                Some("such as 204, or \"200-299\"".into()),
            );
            None
        }
    }
}

/// `headers = { Host = "api.local", Authorization = "Bearer …" }`.
fn header_table(ctx: &mut Ctx<'_>, item: &Item) -> Vec<(String, String)> {
    let Some(table) = ctx.table("health.headers", item) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in entries(table) {
        let name = key.get();
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let Some(text) = ctx.string(&format!("health.headers.{name}"), value) else {
            continue;
        };
        if !token || text.contains(['\r', '\n']) {
            ctx.error(
                item_at(value),
                format!("invalid header `{name}` in `health.headers`"),
                Some("a header name is letters, digits and `-`; its value one line".into()),
            );
            continue;
        }
        out.push((name.to_string(), text.to_string()));
    }
    out
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
