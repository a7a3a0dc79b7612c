//! The journal: everything ward knows about its services' past, in one SQLite file.
//!
//! One writer thread owns the only writing connection. The daemon hands it [`Record`]s
//! through a bounded queue and never waits: the writer batches what is queued into one
//! transaction (up to [`BATCH_MAX`] records, whatever is queued when the previous commit
//! ends), commits, and
//! then runs the callbacks of records that asked to know (the API answers a control request
//! only after its record is committed). If the queue is full because the disk stalls, the
//! record is dropped and counted instead of blocking the supervisor.
//!
//! Readers (the CLI's `ward history` and `ward events`) open the file read-only on their
//! own; WAL mode lets them read while the daemon writes.
#![forbid(unsafe_code)]

pub mod audit;
mod backup;
mod query;
mod record;
mod repair;
mod retention;
mod rows;
mod schema;
mod stats;
mod writer;

pub use backup::{backup, backup_dir, list as backups, restore};
pub use repair::{RepairReport, repair};
pub use retention::Retention;

pub use query::{CrashEntry, Entry, Reader, RunEnd};
pub use record::{ExitRecord, Record};
pub use schema::{SCHEMA_VERSION, integrity_check, is_damage, open_checked};
pub use stats::Stats;
pub use writer::{BATCH_MAX, Journal, JournalHandle, PRUNE_EVERY, QUEUE, Tap};

use std::path::PathBuf;

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is damaged.
    #[error(
        "journal {path} is damaged: {detail}\n  hint: run `ward doctor --repair` to restore it from the newest good backup"
    )]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// What the integrity check reported.
        detail: String,
    },
    /// The file was written by a newer ward.
    #[error(
        "journal {path} has schema version {found}, newer than this ward's {supported}\n  hint: use the ward that wrote it, or restore an older backup"
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// What this ward knows.
        supported: i64,
    },
    /// A file operation around the journal failed.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What a failed query reports.
pub use rusqlite::Error as QueryError;
