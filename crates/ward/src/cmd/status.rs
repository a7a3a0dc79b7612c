//! `ward status [NAME…] [--json]`.

use ward_api::{ServiceStatus, StatusResponse, UnitState};
use ward_core::config::SupervisorConfig;
use ward_core::duration::format_duration;

use crate::client::{self, Method, Timeout};
use crate::exit::{Failure, OK};
use crate::{out, table};

pub fn status(
    sup: &SupervisorConfig,
    names: &[String],
    json: bool,
    timeout: Timeout,
) -> Result<i32, Failure> {
    use std::io::IsTerminal;
    if json && !std::io::stdout().is_terminal() {
        return status_json_compact(sup, names, timeout);
    }
    // With `--json`, each unit's statistics from the journal, which the daemon reads
    // once the journal holds everything its answer counts.
    let path = if json {
        "/v1/status?stats=true"
    } else {
        "/v1/status"
    };
    let mut resp: StatusResponse = client::call(&sup.socket, Method::<()>::Get(path), timeout)?;
    all_named(names, resp.services.iter().map(|s| (&*s.name, &*s.service)))?;
    resp.services
        .retain(|s| selected(names, &s.name, &s.service));
    if json {
        out::json(&resp)?;
        return Ok(OK);
    }
    let mut rows = vec![
        [
            "NAME",
            "STATE",
            "PID",
            "PROC",
            "CPU",
            "MEM",
            "UPTIME",
            "RESTARTS",
            "LAST EXIT",
            "NOTE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for s in &resp.services {
        rows.push(vec![
            s.name.clone(),
            s.state.to_string(),
            s.pid.map_or("-".into(), |p| p.to_string()),
            s.process_state.clone().unwrap_or_else(|| "-".into()),
            s.usage
                .as_ref()
                .and_then(|u| u.cpu_percent)
                .map_or("-".into(), |p| format!("{p:.1}%")),
            s.usage.as_ref().map_or("-".into(), |u| {
                ward_core::config::format_size(u.memory_rss_bytes)
            }),
            s.uptime_ms.map_or("-".into(), |ms| {
                format_duration(std::time::Duration::from_millis(ms))
            }),
            s.restarts.to_string(),
            s.last_exit
                .as_ref()
                .map_or("-".into(), |e| e.description.clone()),
            note(s),
        ]);
    }
    out::print(&table::render(&rows))?;
    Ok(OK)
}

/// What an operator should know beyond the state: why it is not running, what is next.
fn note(s: &ServiceStatus) -> String {
    let mut notes = Vec::new();
    match s.state {
        UnitState::Stopped if !s.waiting_reasons.is_empty() => {
            notes.push(format!("waiting for {}", s.waiting_reasons.join(", ")))
        }
        UnitState::Stopped if !s.waiting_for.is_empty() => {
            notes.push(format!("waiting for {}", s.waiting_for.join(", ")))
        }
        UnitState::Stopped if s.start_queued => notes.push("starts in a moment".to_string()),
        // A task waiting for its schedule: the schedule's note says when.
        UnitState::Stopped if s.next_run_ms.is_some() => {}
        UnitState::Stopped => notes.push(format!("stays stopped until `ward start {}`", s.name)),
        UnitState::Failed if s.kind == "oneshot" => notes.push(format!(
            "the task failed{}; `ward start {}` runs it again",
            s.last_exit
                .as_ref()
                .map(|e| format!(" ({})", e.description))
                .unwrap_or_default(),
            s.name
        )),
        UnitState::Failed => {
            let v = s.verdict.as_ref();
            let why = ward_core::classify::gave_up_reason(
                v.map(|v| v.class.as_str()),
                v.and_then(|v| v.strategy.as_deref()),
            );
            notes.push(format!(
                "ward gave up: {why}; `ward start {}` to try again",
                s.name
            ))
        }
        UnitState::Backoff => {
            if let Some(ms) = s.backoff_ms {
                notes.push(format!(
                    "restarting in {}",
                    format_duration(std::time::Duration::from_millis(ms))
                ));
            }
        }
        UnitState::Starting
        | UnitState::Running
        | UnitState::Stopping
        | UnitState::Exited
        | UnitState::Completed => {}
    }
    if let Some(cron) = &s.schedule {
        notes.push(match s.next_run_ms {
            Some(ms) => format!(
                "next run {} ({cron})",
                ward_api::timestamp::string(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)
                )
            ),
            None if s.intent == ward_api::UnitIntent::Stop => {
                format!(
                    "schedule paused ({cron}); `ward start {}` resumes it",
                    s.name
                )
            }
            None => format!("no future run ({cron})"),
        });
    }
    if let Some(h) = &s.health {
        match &s.health_last {
            Some(last) if h != "healthy" => notes.push(format!("{h} (last probe: {last})")),
            _ => notes.push(h.clone()),
        }
    }
    if let Some(text) = &s.status_text {
        notes.push(format!("\"{text}\""));
    }
    if let Some(e) = &s.spawn_error {
        notes.push(e.clone());
    }
    if s.log_dropped_bytes > 0 {
        notes.push(format!("{} log bytes dropped", s.log_dropped_bytes));
    }
    notes.join("; ")
}

/// The daemon's status answer, each unit's object kept as the text it came in.
#[derive(serde::Deserialize)]
struct RawStatus {
    daemon: Box<serde_json::value::RawValue>,
    services: Vec<Box<serde_json::value::RawValue>>,
}

/// What a unit's object is looked at for: which unit it is.
#[derive(serde::Deserialize)]
struct Ident {
    name: String,
    service: String,
}

/// `status --json` for a program (stdout is not a terminal): the daemon's objects, each
/// with its `stats`, are passed on as they came. Decoding every field of thousands of
/// units and encoding them again was most of the command's time at 5,000 units; the
/// output is the same JSON, compact. Without names, the daemon's answer is the output
/// as it is, and is not even read through: at 5,000 units, skipping over 4 MB of JSON
/// was a third of the command's time.
fn status_json_compact(
    sup: &SupervisorConfig,
    names: &[String],
    timeout: Timeout,
) -> Result<i32, Failure> {
    use std::io::Write;
    let body = client::call_raw(
        &sup.socket,
        Method::<()>::Get("/v1/status?stats=true"),
        timeout,
    )?;
    let whole = body.trim_ascii_end();
    if names.is_empty() && whole.starts_with(b"{\"daemon\":") && whole.ends_with(b"]}") {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(whole)
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush())
            .map(|()| OK)
            .map_err(Failure::Output);
    }
    let resp: RawStatus = client::decode(&body)?;
    // Without names (an answer not in the daemon's usual shape) every unit is shown:
    // nothing in the objects needs reading.
    let chosen: Vec<&serde_json::value::RawValue> = if names.is_empty() {
        resp.services.iter().map(|raw| &**raw).collect()
    } else {
        let mut units = Vec::with_capacity(resp.services.len());
        for raw in &resp.services {
            let ident: Ident = serde_json::from_str(raw.get()).map_err(|e| {
                Failure::Failed(format!(
                    "the daemon's status has a unit that cannot be read: {e}"
                ))
            })?;
            units.push((ident, &**raw));
        }
        all_named(names, units.iter().map(|(u, _)| (&*u.name, &*u.service)))?;
        units
            .into_iter()
            .filter(|(u, _)| selected(names, &u.name, &u.service))
            .map(|(_, raw)| raw)
            .collect()
    };
    let mut out = Vec::with_capacity(chosen.iter().map(|r| r.get().len() + 2).sum());
    out.extend_from_slice(b"{\"daemon\":");
    out.extend_from_slice(resp.daemon.get().as_bytes());
    out.extend_from_slice(b",\"services\":[");
    for (i, raw) in chosen.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(raw.get().trim_end().as_bytes());
    }
    out.extend_from_slice(b"]}\n");
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(Failure::Output)?;
    Ok(OK)
}

/// Refuses a name given on the command line that no unit has, as its name or its
/// service's.
fn all_named<'a>(
    names: &[String],
    units: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<(), Failure> {
    match names.iter().find(|n| {
        !units
            .clone()
            .any(|(name, service)| *n == name || *n == service)
    }) {
        Some(name) => Err(Failure::Usage(format!("no service named `{name}`"))),
        None => Ok(()),
    }
}

/// Whether the unit `name` of `service` is among those asked for (all, without names).
fn selected(names: &[String], name: &str, service: &str) -> bool {
    names.is_empty() || names.iter().any(|n| n == name || n == service)
}
