//! What the API asks of the supervisor, and how the answers are built.

use tokio::sync::oneshot;
use ward_api::{ErrorBody, Selection, SignalRequest};

/// One API call, on its way to the supervisor.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `GET /v1/status`; `?stats=true` adds each unit's statistics from the journal.
    Status {
        /// Each unit's last 24 hours in numbers, read once the journal holds everything
        /// journaled before the answer's snapshot.
        stats: bool,
    },
    /// `GET /readyz`: every unit meant to run is ready (a task: completed).
    Ready,
    /// `GET /livez`: the loop answers.
    Live,
    /// `POST /v1/start`.
    Start(Selection),
    /// `POST /v1/stop`.
    Stop(Selection),
    /// `POST /v1/restart`.
    Restart(Selection),
    /// `POST /v1/signal`.
    Signal(SignalRequest),
    /// `POST /v1/reload`.
    Reload,
    /// `POST /v1/shutdown`.
    Shutdown,
    /// `POST /v1/logs/reopen`.
    ReopenLogs,
    /// `POST /v1/backup`.
    Backup,
    /// `POST /v1/journal/sync`: answered once everything journaled before it is committed.
    JournalSync,
    /// `GET /metrics`: the status in Prometheus's text format.
    Metrics,
    /// `GET /v1/why?name=N[&run=K]`: what `ward why` shows.
    Why {
        /// The unit.
        name: String,
        /// The Kth last ended run, from the journal; `None` for the last end the daemon
        /// judged.
        run: Option<u32>,
    },
    /// `GET /v1/history?name=N[&limit=K]`: what `ward history` shows, the newest K.
    History {
        /// A unit, or a service for all its instances.
        name: String,
        /// The most entries.
        limit: u32,
    },
    /// `GET /v1/logs?name=N[&lines=K]`: the last K lines of the unit's log.
    Logs {
        /// The unit.
        name: String,
        /// How many lines.
        lines: u32,
        /// `follow=true`: the API layer turns the answer into a follower of the file.
        follow: bool,
    },
    /// `GET /v1/config?name=N`: the unit's settings, secrets masked.
    Config {
        /// The unit.
        name: String,
    },
    /// `GET /v1/usage`: every running unit's recent samples.
    Usage,
}

impl Command {
    /// What the audit trail records of it before it is carried out: what, and the units
    /// named. `None` for the reads, which change nothing.
    pub fn audited(&self) -> Option<(String, Vec<String>)> {
        let names = |sel: &ward_api::Selection| {
            if sel.all {
                vec!["--all".to_string()]
            } else {
                sel.names.clone()
            }
        };
        Some(match self {
            Command::Status { .. }
            | Command::JournalSync
            | Command::Metrics
            | Command::Ready
            | Command::Live
            | Command::Why { .. }
            | Command::History { .. }
            | Command::Logs { .. }
            | Command::Config { .. }
            | Command::Usage => return None,
            Command::Start(sel) => ("start".into(), names(sel)),
            Command::Stop(sel) => ("stop".into(), names(sel)),
            Command::Restart(sel) => ("restart".into(), names(sel)),
            Command::Signal(req) => (format!("signal {}", req.signal), names(&req.selection)),
            Command::Reload => ("reload".into(), Vec::new()),
            Command::Shutdown => ("shutdown".into(), Vec::new()),
            Command::ReopenLogs => ("reopen logs".into(), Vec::new()),
            Command::Backup => ("backup".into(), Vec::new()),
        })
    }
}

/// A command and where its answer goes.
#[derive(Debug)]
pub(crate) struct Request {
    pub command: Command,
    pub reply: oneshot::Sender<Reply>,
    /// Who asked, for the journal: `uid 1000`.
    pub who: String,
    /// Who asked, for the audit trail.
    pub peer: ward_store::audit::Peer,
}

/// A JSON body for a 200, or an error with its HTTP status.
pub(crate) type Reply = Result<Answer, ApiError>;

/// A 200's body, already encoded: a status of thousands of units is written once, straight
/// to bytes, not built as a tree of values first.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub body: Vec<u8>,
    /// `application/json`, but for `/metrics`.
    pub content_type: &'static str,
}

impl Answer {
    /// A JSON body.
    pub fn json(body: Vec<u8>) -> Answer {
        Answer {
            body,
            content_type: "application/json",
        }
    }

    /// The body read back as a value, for the few callers that look inside (the journal's
    /// line about an action).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// An answer other than 200.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: u16, error: impl Into<String>, hint: Option<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                hint,
            },
        }
    }
}

/// Serialises an answer; the types here always serialise.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Reply {
    json_sized(value, 0)
}

/// Serialises an answer of about `size` bytes into a buffer of that size made at once: a
/// status of thousands of units grows to megabytes, and growing by doubling copied it
/// over and over (a seventh of the daemon's time for a status of 5,000).
pub(crate) fn json_sized<T: serde::Serialize>(value: &T, size: usize) -> Reply {
    let mut out = Vec::with_capacity(size);
    serde_json::to_writer(&mut out, value)
        .map(|()| Answer::json(out))
        .map_err(|e| ApiError::new(500, format!("cannot encode the answer: {e}"), None))
}
