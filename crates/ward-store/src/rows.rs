//! A journal record as the rows it becomes, inside the writer's transaction.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use crate::now_ms;
use crate::record::Record;

/// The row id of a unit, creating its row on first sight.
fn service_id(
    tx: &Transaction<'_>,
    ids: &mut HashMap<String, i64>,
    unit: &str,
    service: &str,
) -> rusqlite::Result<i64> {
    if let Some(&id) = ids.get(unit) {
        return Ok(id);
    }
    tx.prepare_cached(
        "INSERT OR IGNORE INTO services (name, service, first_seen_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![unit, service, now_ms()])?;
    let id = tx
        .prepare_cached("SELECT id FROM services WHERE name = ?1")?
        .query_row([unit], |r| r.get(0))?;
    if ids.len() >= IDS_CACHED {
        // A new map: a cleared one keeps its table.
        *ids = HashMap::new();
    }
    ids.insert(unit.to_string(), id);
    Ok(id)
}

/// How many units' ids the writer keeps at most. The cache saves two statements for
/// every record of a unit it holds; the units that make many records (a crash storm,
/// a flapping service) are few at a time, and a cache of every unit was 420 KB of the
/// daemon's memory at 5,000 units. Full, it starts again empty.
pub(crate) const IDS_CACHED: usize = 1024;

/// The service a unit name belongs to, for units the journal meets before their
/// `Record::Unit`: `web.2` belongs to `web`.
fn service_of(unit: &str) -> &str {
    match unit.rsplit_once('.') {
        Some((svc, idx)) if idx.chars().all(|c| c.is_ascii_digit()) => svc,
        _ => unit,
    }
}

pub(crate) fn apply(
    tx: &Transaction<'_>,
    ids: &mut HashMap<String, i64>,
    seq: i64,
    record: &Record,
) -> rusqlite::Result<()> {
    let mut sid = |unit: &str| service_id(tx, ids, unit, service_of(unit));
    match record {
        Record::Unit { unit, service } => {
            service_id(tx, ids, unit, service)?;
        }
        Record::RunStarted {
            unit,
            pid,
            start_time,
            boot_id,
            at_ms,
            adopted,
        } => {
            let id = sid(unit)?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO runs (service_id, pid, start_time, boot_id, started_ms, adopted, start_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id, pid, *start_time as i64, boot_id, at_ms, adopted, seq])?;
        }
        Record::RunEnded {
            unit,
            pid,
            start_time,
            boot_id,
            at_ms,
            exit,
        } => {
            let id = sid(unit)?;
            let updated = tx
                .prepare_cached(
                    "UPDATE runs SET ended_ms = ?1, exit_description = ?2, exit_code = ?3,
                     exit_signal = ?4, core_dumped = ?5, end_seq = ?9
                     WHERE boot_id = ?6 AND pid = ?7 AND start_time = ?8",
                )?
                .execute(params![
                    at_ms,
                    exit.description,
                    exit.code,
                    exit.signal,
                    exit.core_dumped,
                    boot_id,
                    pid,
                    *start_time as i64,
                    seq
                ])?;
            if updated == 0 {
                // Its start was not journaled (dropped, or before the journal existed).
                tx.prepare_cached(
                    "INSERT INTO runs (service_id, pid, start_time, boot_id, started_ms, ended_ms,
                     exit_description, exit_code, exit_signal, core_dumped, start_seq, end_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                )?
                .execute(params![
                    id,
                    pid,
                    *start_time as i64,
                    boot_id,
                    at_ms,
                    exit.description,
                    exit.code,
                    exit.signal,
                    exit.core_dumped,
                    seq
                ])?;
            }
        }
        Record::Crash {
            unit,
            pid,
            at_ms,
            class,
            severity,
            evidence,
            evidence_lines,
            summary,
            recommendation,
        } => {
            let id = sid(unit)?;
            let run: Option<i64> = match pid {
                Some(pid) => tx
                    .prepare_cached(
                        "SELECT id FROM runs WHERE service_id = ?1 AND pid = ?2 ORDER BY id DESC LIMIT 1",
                    )?
                    .query_row(params![id, pid], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            tx.prepare_cached(
                "INSERT INTO crashes (service_id, run_id, at_ms, class, severity, evidence,
                                      evidence_lines, summary, recommendation, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                id,
                run,
                at_ms,
                class,
                severity,
                evidence,
                serde_json::to_string(evidence_lines).unwrap_or_default(),
                summary,
                recommendation,
                seq
            ])?;
        }
        Record::Health {
            unit,
            at_ms,
            from,
            to,
            detail,
        } => {
            let id = sid(unit)?;
            tx.prepare_cached(
                "INSERT INTO health (service_id, at_ms, from_state, to_state, detail, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![id, at_ms, from, to, detail, seq])?;
        }
        Record::Recovery {
            unit,
            at_ms,
            action,
            delay_ms,
        } => {
            let id = sid(unit)?;
            tx.prepare_cached(
                "INSERT INTO recoveries (service_id, crash_id, at_ms, action, delay_ms, seq)
                 VALUES (?1, (SELECT max(id) FROM crashes WHERE service_id = ?1 AND at_ms >= ?2 - 1000),
                         ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, at_ms, action, delay_ms.map(|d| d as i64), seq])?;
        }
        Record::Transition {
            unit,
            at_ms,
            from,
            to,
        } => {
            let id = sid(unit)?;
            tx.prepare_cached(
                "INSERT INTO events (at_ms, service_id, kind, detail, seq) VALUES (?1, ?2, 'state', ?3, ?4)",
            )?
            .execute(params![at_ms, id, format!("{from} -> {to}"), seq])?;
        }
        Record::Action {
            at_ms,
            who,
            what,
            targets,
            result,
        } => {
            tx.prepare_cached(
                "INSERT INTO actions (at_ms, who, what, targets, result, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![at_ms, who, what, targets, result, seq])?;
        }
        Record::Daemon {
            at_ms,
            what,
            detail,
        } => {
            tx.prepare_cached(
                "INSERT INTO events (at_ms, service_id, kind, detail, seq) VALUES (?1, NULL, ?2, ?3, ?4)",
            )?
            .execute(params![at_ms, what, detail, seq])?;
        }
        Record::AuditHead { seq, hash } => {
            tx.prepare_cached(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )?
            .execute(params![*seq as i64, hash])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_map_to_their_service() {
        assert_eq!(service_of("web.2"), "web");
        assert_eq!(service_of("web"), "web");
        assert_eq!(service_of("a.b"), "a.b");
    }

    #[test]
    fn the_ids_cache_stays_bounded_and_every_unit_keeps_its_own_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::schema::open_checked(&dir.path().join("j.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let mut ids = HashMap::new();
        let n = IDS_CACHED * 2 + 10;
        let first: Vec<i64> = (0..n)
            .map(|i| service_id(&tx, &mut ids, &format!("u{i}"), "s").unwrap())
            .collect();
        assert!(ids.len() <= IDS_CACHED, "{} ids cached", ids.len());
        // Asked again, cached or not, each unit has the id its row was given.
        for (i, id) in first.iter().enumerate() {
            let again = service_id(&tx, &mut ids, &format!("u{i}"), "s").unwrap();
            assert_eq!(again, *id, "u{i}");
            let row: i64 = tx
                .query_row(
                    "SELECT id FROM services WHERE name = ?1",
                    [format!("u{i}")],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(row, *id);
        }
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert_eq!(distinct.len(), n);
    }
}
