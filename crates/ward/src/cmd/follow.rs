//! `ward events -f`: the daemon's live event stream (`GET /v1/events`), after the
//! journal's history when `--since` is given, filtered by service and kind, as lines for
//! people or JSON lines for scripts. Read over a plain HTTP/1.0 request, so that the
//! stream is the raw body, a line at a time, until the daemon ends it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, UNIX_EPOCH};

use ward_api::{LiveEvent, timestamp};
use ward_core::config::SupervisorConfig;

use crate::exit::{Failure, OK};

/// What `ward events -f` was asked.
pub struct Follow {
    pub since: Option<String>,
    pub json: bool,
    pub services: Vec<String>,
    pub kinds: Vec<String>,
}

impl Follow {
    fn wants(&self, unit: Option<&str>, kind: &str) -> bool {
        let service_ok = self.services.is_empty()
            || unit.is_some_and(|u| {
                self.services
                    .iter()
                    .any(|s| u == s || u.split_once('.').is_some_and(|(base, _)| base == s))
            });
        let kind_ok = self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind);
        service_ok && kind_ok
    }
}

pub fn follow(sup: &SupervisorConfig, f: Follow) -> Result<i32, Failure> {
    let kinds: Vec<String> = f
        .kinds
        .iter()
        .flat_map(|k| k.split(',').map(|s| s.trim().to_string()))
        .filter(|k| !k.is_empty())
        .collect();
    let f = Follow { kinds, ..f };
    // Subscribed first, so that nothing happens between the history and the stream.
    let stream = UnixStream::connect(&sup.socket).map_err(|e| {
        Failure::Failed(format!(
            "cannot follow the events: no daemon answers on {}: {e}\n  hint: start it with `ward up`",
            sup.socket.display()
        ))
    })?;
    let mut writer = stream
        .try_clone()
        .map_err(|e| Failure::Failed(e.to_string()))?;
    writer
        .write_all(b"GET /v1/events HTTP/1.0\r\nHost: ward\r\n\r\n")
        .map_err(|e| Failure::Failed(format!("cannot ask for the events: {e}")))?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|e| Failure::Failed(format!("cannot read the events: {e}")))?;
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return Err(Failure::Failed(format!(
            "the daemon refused the event stream: {}",
            status.trim()
        )));
    }
    // The rest of the head.
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap_or(0);
        if n == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut last_at = i64::MIN;
    if let Some(since) = &f.since {
        let since_ms = crate::cmd::history::since_to_ms(since)?;
        for e in crate::cmd::history::entries_since(sup, since_ms)? {
            if f.wants(e.unit.as_deref(), &e.kind) {
                print_line(e.at_ms, e.unit.as_deref(), &e.kind, &e.detail, None, f.json)?;
            }
            last_at = last_at.max(e.at_ms);
        }
    }
    let mut data = String::new();
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if let Some(d) = line.strip_prefix("data: ") {
            data.push_str(d);
            continue;
        }
        if !line.is_empty() || data.is_empty() {
            continue;
        }
        let text = std::mem::take(&mut data);
        let Ok(ev) = serde_json::from_str::<LiveEvent>(&text) else {
            continue;
        };
        let kind = ev.body.kind();
        if kind == "dropped" {
            crate::out::errln!("ward: {}", ev.detail);
            return Ok(crate::exit::FAILED);
        }
        // What the history printed already is not printed twice.
        if ev.at_ms <= last_at {
            continue;
        }
        if f.wants(ev.unit.as_deref(), kind) {
            print_line(
                ev.at_ms,
                ev.unit.as_deref(),
                kind,
                &ev.detail,
                Some(&text),
                f.json,
            )?;
        }
    }
    crate::out::errln!("ward: the event stream ended: the daemon stopped");
    Ok(OK)
}

fn print_line(
    at_ms: i64,
    unit: Option<&str>,
    kind: &str,
    detail: &str,
    json: Option<&str>,
    as_json: bool,
) -> Result<(), Failure> {
    if as_json {
        let line = match json {
            Some(j) => j.to_string(),
            None => {
                serde_json::json!({"at_ms": at_ms, "unit": unit, "kind": kind, "detail": detail})
                    .to_string()
            }
        };
        let mut out = std::io::stdout().lock();
        return out
            .write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(Failure::Output);
    }
    let at = UNIX_EPOCH + Duration::from_millis(at_ms.max(0) as u64);
    crate::out::outln!(
        "{}  {}  {}  {}",
        timestamp::string(at),
        unit.unwrap_or("-"),
        kind,
        detail
    )
}
