//! `ward history [NAME] [--since D] [--json]` and `ward events [--since D] [--json]`: read
//! straight from the journal, so the past is there with or without a daemon.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ward_api::timestamp;
use ward_core::config::SupervisorConfig;
use ward_store::{Entry, Reader};

use crate::exit::{Failure, OK};
use crate::{out, table};

pub fn history(
    sup: &SupervisorConfig,
    name: Option<&str>,
    since: Option<&str>,
    json: bool,
) -> Result<i32, Failure> {
    let since_ms = since.map(since_to_ms).transpose()?.unwrap_or(0);
    let Some(name) = name else {
        print(&entries_since(sup, since_ms)?, json)?;
        return Ok(OK);
    };
    let reader = open(sup)?;
    let known = reader.knows(name).map_err(|e| read_error(sup, e))?;
    if !known {
        return Err(Failure::Usage(format!(
            "the journal has nothing about `{name}`"
        )));
    }
    let entries = reader
        .history(name, since_ms)
        .map_err(|e| read_error(sup, e))?;
    print(&entries, json)?;
    Ok(OK)
}

pub fn events(sup: &SupervisorConfig, since: &str, json: bool) -> Result<i32, Failure> {
    let entries = entries_since(sup, since_to_ms(since)?)?;
    print(&entries, json)?;
    Ok(OK)
}

/// Everything the journal holds since `since_ms`, oldest first.
pub(crate) fn entries_since(sup: &SupervisorConfig, since_ms: i64) -> Result<Vec<Entry>, Failure> {
    open(sup)?.events(since_ms).map_err(|e| read_error(sup, e))
}

fn journal(sup: &SupervisorConfig) -> PathBuf {
    sup.journal()
}

fn open(sup: &SupervisorConfig) -> Result<Reader, Failure> {
    crate::client::settle_journal(sup);
    let path = journal(sup);
    if !path.exists() {
        return Err(Failure::Failed(format!(
            "no journal at {}\n  hint: it is created when `ward up` first runs with this state dir",
            path.display()
        )));
    }
    Reader::open(&path).map_err(|e| Failure::Failed(e.to_string()))
}

fn read_error(sup: &SupervisorConfig, e: ward_store::QueryError) -> Failure {
    Failure::Failed(format!(
        "cannot read the journal {}: {e}\n  hint: `ward doctor` checks it",
        journal(sup).display()
    ))
}

/// `--since 1h`: the time that long before now, in ms since the epoch.
pub(crate) fn since_to_ms(text: &str) -> Result<i64, Failure> {
    let d = ward_core::duration::parse_duration(text).map_err(|_| {
        Failure::Usage(format!(
            "invalid duration `{text}` for --since\n  hint: write a number and a unit, such as 30m, 1h or 2d"
        ))
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(now.saturating_sub(d).as_millis() as i64)
}

fn print(entries: &[Entry], json: bool) -> Result<(), Failure> {
    if json {
        return out::json(entries);
    }
    let mut rows = vec![
        ["TIME", "SERVICE", "WHAT", "DETAIL"]
            .map(String::from)
            .to_vec(),
    ];
    for e in entries {
        let at = UNIX_EPOCH + Duration::from_millis(e.at_ms.max(0) as u64);
        rows.push(vec![
            timestamp::string(at),
            e.unit.clone().unwrap_or_else(|| "-".into()),
            e.kind.clone(),
            e.detail.clone(),
        ]);
    }
    out::print(&table::render(&rows))
}
