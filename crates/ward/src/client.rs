//! Finding the config and talking to the daemon it names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ward_api::{Client, ClientError};
use ward_core::config::{Config, SupervisorConfig};
use ward_core::duration::format_duration;

use crate::exit::Failure;

/// The config file to use: `-c PATH`, else `ward.toml` in the current directory; made
/// absolute, so that every path derived from it (state dir, socket, `NOTIFY_SOCKET`,
/// working directories) is absolute too. Children get those paths and run elsewhere, and
/// the sd_notify protocol accepts only an absolute path.
pub fn config_path(given: Option<&Path>) -> PathBuf {
    let path = given.map_or_else(|| PathBuf::from("ward.toml"), Path::to_path_buf);
    // `absolute` only prefixes the working directory: no symlink is resolved and the file
    // need not exist, so messages still name the file the user meant.
    std::path::absolute(&path).unwrap_or(path)
}

/// Reads and checks the config; every problem is printed with its line and column.
pub fn load(path: &Path) -> Result<Config, Failure> {
    let text = read(path)?;
    let parsed = ward_core::config::parse(path, &text).map_err(|errors| {
        let n = errors.errors.len();
        let plural = if n == 1 { "problem" } else { "problems" };
        Failure::Usage(format!("{errors}\n{n} {plural} in {}", path.display()))
    })?;
    ward_daemon::finish_loading(parsed).map_err(Failure::Usage)
}

/// Where the daemon of this config listens: read leniently, so that a config being edited
/// still leads to its daemon. Only a missing file is an error.
pub fn locate(path: &Path) -> Result<SupervisorConfig, Failure> {
    let text = read(path)?;
    Ok(ward_core::config::locate(path, &text))
}

/// The config's text: from a regular file of at most 16 MiB only, so that a FIFO or a
/// device named by `-c` is refused at once instead of blocking or filling memory.
pub(crate) fn read(path: &Path) -> Result<String, Failure> {
    ward_sys::config_file::read(path).map_err(|e| {
        let hint = if e.is_not_found() {
            "\n  hint: run ward in the directory of your ward.toml, or name it with `ward -c PATH …`"
        } else {
            ""
        };
        Failure::Usage(format!("{e}{hint}"))
    })
}

/// How long `settle_journal` waits: a daemon that cannot commit in that time (a stalled
/// disk, a stopped daemon) is not waited for; the reader shows what is committed.
const SETTLE: Duration = Duration::from_secs(5);

/// Lets a running daemon commit what it has journaled so far, so that a read of the
/// journal right after an event shows it. Without a daemon there is nothing to wait for.
pub fn settle_journal(sup: &SupervisorConfig) {
    if sup.socket.exists() {
        let _ = call::<serde_json::Value>(
            &sup.socket,
            Method::Post("/v1/journal/sync", Empty {}),
            Timeout::After(SETTLE),
        );
    }
}

/// How long a call waits for the daemon's answer: `--timeout`, or the command's own
/// default (see `ward_core::timeouts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Gives up after this long.
    After(Duration),
    /// Waits as long as it takes (`--timeout 0`).
    Never,
}

impl Timeout {
    /// `--timeout DURATION`: `30s`, `2m`, …; `0` waits without limit.
    pub fn parse(text: &str) -> Result<Timeout, String> {
        if text.trim() == "0" {
            return Ok(Timeout::Never);
        }
        let d = ward_core::duration::parse_duration(text).map_err(|e| e.to_string())?;
        Ok(if d.is_zero() {
            Timeout::Never
        } else {
            Timeout::After(d)
        })
    }
}

/// A blocking call to the daemon on `socket`, given up after `timeout`.
pub fn call<T: DeserializeOwned>(
    socket: &Path,
    method: Method<'_, impl Serialize>,
    timeout: Timeout,
) -> Result<T, Failure> {
    decode(&call_raw(socket, method, timeout)?)
}

/// An answer of the daemon's, as `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|e| Failure::Failed(format!("bad answer from the daemon: {e}")))
}

/// [`call`], with the answer's bytes as they came.
pub fn call_raw(
    socket: &Path,
    method: Method<'_, impl Serialize>,
    timeout: Timeout,
) -> Result<bytes::Bytes, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(format!("cannot start the async runtime: {e}")))?;
    let client = Client::new(socket);
    let request = async {
        match method {
            Method::Get(path) => client.get(path).await,
            Method::Post(path, body) => client.post(path, &body).await,
        }
    };
    let result = runtime
        .block_on(async {
            match timeout {
                Timeout::Never => Ok(request.await),
                Timeout::After(limit) => tokio::time::timeout(limit, request)
                    .await
                    .map_err(|_| limit),
            }
        })
        .map_err(|limit| {
            Failure::NotRunning(format!(
                "no answer from the ward daemon on {} within {}\n  hint: a daemon that is \
                 stopped (SIGSTOP) or stuck does not answer; what was asked may still be \
                 carried out (see `ward status`); `--timeout DURATION` waits longer, \
                 `--timeout 0` without limit",
                socket.display(),
                format_duration(limit)
            ))
        })?;
    result.map_err(|e| match e {
        ClientError::Connect { socket, source }
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Failure::Failed(format!(
                "not allowed to talk to the daemon on {}: {source}\n  hint: the socket belongs to \
                 the user who started ward; run the command as that user or as root",
                socket.display()
            ))
        }
        ClientError::Connect { socket, source } => Failure::NotRunning(format!(
            "no ward daemon answers on {}: {source}\n  hint: start it with `ward up -d`",
            socket.display()
        )),
        ClientError::Api { status, body } => {
            let hint = body
                .hint
                .map(|h| format!("\n  hint: {h}"))
                .unwrap_or_default();
            let msg = format!("{}{hint}", body.error);
            if status == 400 || status == 404 {
                Failure::Usage(msg)
            } else {
                Failure::Failed(msg)
            }
        }
        ClientError::Protocol(m) => Failure::Failed(format!("bad answer from the daemon: {m}")),
    })
}

/// A request to the API.
pub enum Method<'a, B> {
    /// `GET path`.
    Get(&'a str),
    /// `POST path` with a JSON body.
    Post(&'a str, B),
}

/// The body of requests that take no arguments: `{}`.
#[derive(Serialize)]
pub struct Empty {}
