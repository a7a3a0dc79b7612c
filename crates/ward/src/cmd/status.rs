//! `ward status [NAME…] [--json]`.

use ward_api::{ServiceStatus, StatusResponse};
use ward_core::config::SupervisorConfig;
use ward_core::duration::format_duration;

use crate::client::{self, Method};
use crate::exit::{Failure, OK};
use crate::table;

pub fn status(sup: &SupervisorConfig, names: &[String], json: bool) -> Result<i32, Failure> {
    let mut resp: StatusResponse = client::call(&sup.socket, Method::<()>::Get("/v1/status"))?;
    if !names.is_empty() {
        for name in names {
            if !resp
                .services
                .iter()
                .any(|s| &s.name == name || &s.service == name)
            {
                return Err(Failure::Usage(format!("no service named `{name}`")));
            }
        }
        resp.services
            .retain(|s| names.iter().any(|n| n == &s.name || n == &s.service));
    }
    if json {
        // Each service gains its statistics from the journal, read here, not by the daemon.
        let reader = ward_store::Reader::open(&sup.state_dir.join("journal.db")).ok();
        let mut value = serde_json::to_value(&resp).unwrap_or_default();
        if let (Some(reader), Some(services)) = (
            reader.as_ref(),
            value.get_mut("services").and_then(|s| s.as_array_mut()),
        ) {
            let mut all = super::stats::stats_all(reader);
            for s in services {
                let name = s["name"].as_str().unwrap_or_default().to_string();
                if let Some(stats) = all.remove(&name) {
                    s["stats"] = serde_json::to_value(stats).unwrap_or_default();
                }
            }
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(OK);
    }
    let mut rows = vec![
        [
            "NAME",
            "STATE",
            "PID",
            "PROC",
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
            s.state.clone(),
            s.pid.map_or("-".into(), |p| p.to_string()),
            s.process_state.clone().unwrap_or_else(|| "-".into()),
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
    print!("{}", table::render(&rows));
    Ok(OK)
}

/// What an operator should know beyond the state: why it is not running, what is next.
fn note(s: &ServiceStatus) -> String {
    let mut notes = Vec::new();
    match s.state.as_str() {
        "stopped" if !s.waiting_for.is_empty() => {
            notes.push(format!("waiting for {}", s.waiting_for.join(", ")))
        }
        "stopped" => notes.push(format!("stays stopped until `ward start {}`", s.name)),
        "failed" => {
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
        "backoff" => {
            if let Some(ms) = s.backoff_ms {
                notes.push(format!(
                    "restarting in {}",
                    format_duration(std::time::Duration::from_millis(ms))
                ));
            }
        }
        _ => {}
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
