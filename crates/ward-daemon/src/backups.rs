//! Journal backups, off the supervising loop: the backup API copies the file page by page
//! from a connection of its own, on a blocking thread.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;
use ward_api::BackupResponse;
use ward_store::{JournalHandle, Record, now_ms};

use crate::requests::{ApiError, Reply, json};

/// Why a backup was not taken.
#[derive(Debug, thiserror::Error)]
enum BackupError {
    /// The journal's own error (unreadable, disk full, the copy failed its check).
    #[error(transparent)]
    Store(#[from] ward_store::StoreError),
    /// The blocking thread that copies died.
    #[error("the backup task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

async fn take(path: PathBuf, keep: usize) -> Result<PathBuf, BackupError> {
    Ok(tokio::task::spawn_blocking(move || ward_store::backup(&path, keep)).await??)
}

/// A backup every `interval`, the newest `keep` kept.
pub(crate) async fn periodic(
    path: PathBuf,
    keep: usize,
    interval: Duration,
    journal: JournalHandle,
) {
    loop {
        tokio::time::sleep(interval).await;
        match take(path.clone(), keep).await {
            Ok(file) => tracing::info!(file = %file.display(), "journal backed up"),
            Err(e) => {
                tracing::error!(error = %e, "journal backup failed");
                journal.record(Record::Daemon {
                    at_ms: now_ms(),
                    what: "journal backup failed".into(),
                    detail: e.to_string(),
                });
            }
        }
    }
}

/// `ward backup`: answered with the verified file, once the request is journaled.
pub(crate) async fn on_demand(
    path: PathBuf,
    keep: usize,
    journal: JournalHandle,
    reply: oneshot::Sender<Reply>,
    who: String,
) {
    let answer = match take(path, keep).await {
        Ok(file) => json(&BackupResponse {
            file: file.display().to_string(),
        }),
        Err(e) => Err(ApiError::new(500, format!("backup failed: {e}"), None)),
    };
    let record = crate::journal::action(&who, "backup", &[], &answer);
    journal.record_then(record, move |_| {
        let _ = reply.send(answer);
    });
}
