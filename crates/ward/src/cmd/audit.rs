//! `ward audit` and `ward audit verify`: the trail read straight from the state dir, with
//! or without a daemon.

use std::time::{Duration, UNIX_EPOCH};

use ward_api::{escape, timestamp};
use ward_core::config::SupervisorConfig;
use ward_store::audit::{Entry, Event, Peer};

use crate::exit::{Failure, OK};
use crate::out::{self, outln};
use crate::table;

pub fn list(sup: &SupervisorConfig, since: Option<&str>, json: bool) -> Result<i32, Failure> {
    let since_ms = since
        .map(super::history::since_to_ms)
        .transpose()?
        .unwrap_or(0);
    let entries: Vec<Entry> = ward_store::audit::read(&sup.state_dir)
        .map_err(|e| read_error(sup, e))?
        .into_iter()
        .filter(|e| e.at_ms as i64 >= since_ms)
        .collect();
    if json {
        out::json(&entries)?;
        return Ok(OK);
    }
    let mut rows = vec![["TIME", "SEQ", "WHO", "WHAT"].map(String::from).to_vec()];
    for e in &entries {
        let (who, what) = describe(&e.event);
        rows.push(vec![
            timestamp::string(UNIX_EPOCH + Duration::from_millis(e.at_ms)),
            e.seq.to_string(),
            escape::line(&who).into_owned(),
            escape::line(&what).into_owned(),
        ]);
    }
    out::print(&table::render(&rows))?;
    Ok(OK)
}

fn peer(p: &Peer) -> String {
    if let Some(addr) = &p.addr {
        return format!("http {addr}");
    }
    match &p.exe {
        Some(exe) => format!("uid {} (pid {}, {exe})", p.uid, p.pid),
        None => format!("uid {} (pid {})", p.uid, p.pid),
    }
}

/// Who, and what, in words.
fn describe(event: &Event) -> (String, String) {
    match event {
        Event::Action {
            peer: p,
            what,
            targets,
        } if targets.is_empty() => (peer(p), what.clone()),
        Event::Action {
            peer: p,
            what,
            targets,
        } => (peer(p), format!("{what} {}", targets.join(" "))),
        Event::Refused { peer: p, why } => (peer(p), format!("connection refused: {why}")),
        Event::Spawn {
            unit, argv, uid, ..
        } => (
            "ward".into(),
            format!("started {unit} as uid {uid}: {}", argv.join(" ")),
        ),
        Event::Run {
            by, argv, uid, cwd, ..
        } => (
            peer(by),
            format!("ward run as uid {uid} in {cwd}: {}", argv.join(" ")),
        ),
        Event::RunEnded {
            pid,
            argv,
            exit,
            timed_out,
        } => {
            let how = if *timed_out {
                format!("timed out, exit {exit}")
            } else {
                format!("exit {exit}")
            };
            (
                "ward run".into(),
                format!("ended ({how}), pid {pid}: {}", argv.join(" ")),
            )
        }
        Event::Reload { changes } => ("ward".into(), format!("reload: {}", changes.join("; "))),
        Event::Daemon { what } => ("ward".into(), what.clone()),
    }
}

pub fn verify(sup: &SupervisorConfig) -> Result<i32, Failure> {
    // The head as the journal has it, once what the daemon sent is committed.
    crate::client::settle_journal(sup);
    let journal = sup.journal();
    let head = if journal.exists() {
        ward_store::Reader::open(&journal)
            .and_then(|r| {
                r.audit_head()
                    .map_err(|source| ward_store::StoreError::Sqlite {
                        path: journal.clone(),
                        source,
                    })
            })
            .map_err(|e| Failure::Failed(format!("cannot read the audit trail's head: {e}")))?
    } else {
        None
    };
    match ward_store::audit::verify(&sup.state_dir, head.as_ref()) {
        Err(e) => Err(read_error(sup, e)),
        Ok(Err(broken)) => Err(Failure::Failed(format!(
            "the audit trail is broken at {broken}"
        ))),
        Ok(Ok(v)) => {
            match (&v.head, &head) {
                (Some(h), Some(_)) => outln!(
                    "the audit trail holds: {} records, the last ({}) matching the journal's head",
                    v.records,
                    h.seq
                )?,
                (Some(h), None) => outln!(
                    "the audit trail holds: {} records, the last is {} (the journal has no head to compare it with)",
                    v.records,
                    h.seq
                )?,
                (None, _) => outln!("the audit trail is empty")?,
            }
            Ok(OK)
        }
    }
}

fn read_error(sup: &SupervisorConfig, e: std::io::Error) -> Failure {
    Failure::Failed(format!(
        "cannot read the audit trail in {}: {e}",
        sup.state_dir.display()
    ))
}
