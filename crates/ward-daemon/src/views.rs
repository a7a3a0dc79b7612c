//! The read views beside the status, for the dashboard and any other client: why a unit's
//! run ended (`GET /v1/why`), its history (`/v1/history`), the tail of its log
//! (`/v1/logs`), its settings (`/v1/config`) and its recent samples (`/v1/usage`). What
//! reads the journal or a log file runs on a blocking thread, never on the loop; what
//! reads the journal waits first for everything recorded before the request.

use std::time::SystemTime;

use tokio::sync::oneshot;
use ward_api::{ConfigEntry, ConfigResponse, HistoryEntry, HistoryResponse, LogsResponse};

use crate::requests::{ApiError, Reply, json};
use crate::supervisor::Supervisor;
use crate::unit::Unit;

type ReplyTx = oneshot::Sender<Reply>;

impl Supervisor {
    /// The unit, or the `404` that names it.
    fn unit_named(&self, name: &str) -> Result<&Unit, ApiError> {
        self.units.get(name).map(|u| &**u).ok_or_else(|| {
            ApiError::new(
                404,
                format!("no unit named `{name}`"),
                Some("`ward status` lists the units".into()),
            )
        })
    }

    /// `GET /v1/why`: the last end the daemon judged, or the `run`th last from the journal.
    pub(crate) fn why_view(&self, name: String, run: Option<u32>, reply: ReplyTx) {
        let unit = match self.unit_named(&name) {
            Ok(u) => u,
            Err(e) => return drop(reply.send(Err(e))),
        };
        let journal = self.journal.path().to_path_buf();
        let min_uptime = unit.instance.service.min_uptime;
        let status = self.unit_status(unit, SystemTime::now());
        let log = unit.log.path().to_path_buf();
        self.after_commit(reply, move || match run {
            Some(n) => crate::why::from_journal(&journal, &log, min_uptime, &name, n)
                .map_err(|e| ApiError::new(404, e, None))
                .and_then(|w| json(&w)),
            None => {
                let state = status.state;
                match crate::why::of_status(&journal, min_uptime, status) {
                    Some(w) => json(&w),
                    // As `ward why --json` says it.
                    None => {
                        json(&serde_json::json!({ "name": name, "state": state, "class": null }))
                    }
                }
            }
        });
    }

    /// `GET /v1/history`: the newest `limit` entries of a unit or service the journal knows.
    pub(crate) fn history_view(&self, name: String, limit: u32, reply: ReplyTx) {
        let journal = self.journal.path().to_path_buf();
        self.after_commit(reply, move || {
            let failed = |e: &dyn std::fmt::Display| {
                ApiError::new(
                    500,
                    format!("cannot read the journal {}: {e}", journal.display()),
                    None,
                )
            };
            let reader = ward_store::Reader::open(&journal).map_err(|e| failed(&e))?;
            if !reader.knows(&name).map_err(|e| failed(&e))? {
                return Err(ApiError::new(
                    404,
                    format!("the journal knows no unit or service `{name}`"),
                    Some("`ward status` lists the units".into()),
                ));
            }
            let (entries, truncated) = reader.history_last(&name, limit).map_err(|e| failed(&e))?;
            json(&HistoryResponse {
                name,
                entries: entries
                    .into_iter()
                    .map(|e| HistoryEntry {
                        at_ms: e.at_ms,
                        unit: e.unit,
                        kind: e.kind,
                        detail: e.detail,
                    })
                    .collect(),
                truncated,
            })
        });
    }

    /// `GET /v1/logs`: the last `lines` lines of the unit's log file.
    pub(crate) fn logs_view(&self, name: String, lines: u32, reply: ReplyTx) {
        let path = match self.unit_named(&name) {
            Ok(u) => u.log.path().to_path_buf(),
            Err(e) => return drop(reply.send(Err(e))),
        };
        tokio::task::spawn_blocking(move || {
            let answer = crate::log_tail::tail(&path, lines as usize)
                .map_err(|e| {
                    ApiError::new(500, format!("cannot read {}: {e}", path.display()), None)
                })
                .and_then(|(lines, offset)| {
                    json(&LogsResponse {
                        name,
                        file: crate::wire::path(&path),
                        lines,
                        offset,
                    })
                });
            let _ = reply.send(answer);
        });
    }

    /// `GET /v1/config`: the unit's settings as the daemon runs it, secrets masked.
    pub(crate) fn config_view(&self, name: &str) -> Reply {
        let unit = self.unit_named(name)?;
        let service = &unit.instance.service;
        json(&ConfigResponse {
            name: unit.name().to_string(),
            service: service.name.clone(),
            file: crate::wire::path(&self.config_path),
            entries: ward_core::config::describe(service)
                .into_iter()
                .map(|(key, value)| ConfigEntry { key, value })
                .collect(),
        })
    }

    /// `GET /v1/usage`: each unit's recent samples.
    pub(crate) fn usage_view(&self) -> Reply {
        json(&ward_api::UsageResponse {
            interval_ms: self.config.supervisor.sample_interval.as_millis() as u64,
            units: self
                .units
                .values()
                .filter(|u| !u.seldom().usage_trail.is_empty())
                .map(|u| ward_api::UnitUsage {
                    unit: u.name().to_string(),
                    points: u.seldom().usage_trail.iter().copied().collect(),
                })
                .collect(),
        })
    }

    /// Answers with what `read` returns, run on a blocking thread once everything
    /// journaled before now is committed.
    fn after_commit(&self, reply: ReplyTx, read: impl FnOnce() -> Reply + Send + 'static) {
        let (done, committed) = oneshot::channel();
        self.journal.handle().then(move || {
            let _ = done.send(());
        });
        tokio::spawn(async move {
            let _ = committed.await;
            let answer = tokio::task::spawn_blocking(read)
                .await
                .unwrap_or_else(|e| Err(ApiError::new(500, format!("the read failed: {e}"), None)));
            let _ = reply.send(answer);
        });
    }
}
