//! The control API: HTTP/1.1 with JSON bodies on the daemon's Unix socket.
//!
//! Each connection is served by its own task, which only parses and forwards: the request
//! goes to the supervisor through a channel with a one-shot reply. Nothing here touches a
//! unit. Only the daemon's own user (or root) may talk to it; the socket file is 0600 in a
//! 0700 directory as well.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::de::DeserializeOwned;
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, mpsc, oneshot};
use ward_api::{ErrorBody, MAX_BODY};

use crate::requests::{ApiError, Command, Reply, Request};

/// A client that opened a connection must send its request headers, and then its body,
/// within this time each.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(
    listener: UnixListener,
    tx: mpsc::Sender<Request>,
    connections: Arc<Semaphore>,
) {
    let me = ward_sys::own_uid();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait instead of spinning.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let uid = match ward_sys::peer_uid(&stream) {
            Ok(uid) if uid == me || uid == 0 => uid,
            Ok(uid) => {
                tracing::warn!(uid, "refused a connection from another user");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot identify the peer; connection refused");
                continue;
            }
        };
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let who = format!("uid {uid}");
            let service = service_fn(move |req| answer(req, tx.clone(), who.clone()));
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    req: HttpRequest<Incoming>,
    tx: mpsc::Sender<Request>,
    who: String,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = match route(req).await {
        Ok(command) => forward(command, &tx, who).await,
        Err(e) => Err(e),
    };
    Ok(match reply {
        Ok(answer) => encoded(StatusCode::OK, answer.0),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = respond(status, &e.body);
            if status == StatusCode::METHOD_NOT_ALLOWED {
                let allow = if e.body.error.ends_with("/v1/status") {
                    "GET"
                } else {
                    "POST"
                };
                resp.headers_mut().insert(
                    hyper::header::ALLOW,
                    hyper::header::HeaderValue::from_static(allow),
                );
            }
            resp
        }
    })
}

async fn forward(command: Command, tx: &mpsc::Sender<Request>, who: String) -> Reply {
    let (reply, rx) = oneshot::channel();
    let gone = || ApiError::new(503, "ward is shutting down", None);
    tx.send(Request {
        command,
        reply,
        who,
    })
    .await
    .map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

/// Maps method and path to a command, reading and checking the body.
async fn route(req: HttpRequest<Incoming>) -> Result<Command, ApiError> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let post = method == Method::POST;
    let command = match (path.as_str(), post) {
        ("/v1/status", false) if method == Method::GET => Command::Status,
        ("/v1/start", true) => Command::Start(body(req).await?),
        ("/v1/stop", true) => Command::Stop(body(req).await?),
        ("/v1/restart", true) => Command::Restart(body(req).await?),
        ("/v1/signal", true) => Command::Signal(body(req).await?),
        ("/v1/reload", true) => Command::Reload,
        ("/v1/shutdown", true) => Command::Shutdown,
        ("/v1/logs/reopen", true) => Command::ReopenLogs,
        ("/v1/backup", true) => Command::Backup,
        ("/v1/journal/sync", true) => Command::JournalSync,
        (
            "/v1/status" | "/v1/start" | "/v1/stop" | "/v1/restart" | "/v1/signal" | "/v1/reload"
            | "/v1/shutdown" | "/v1/logs/reopen" | "/v1/backup" | "/v1/journal/sync",
            _,
        ) => {
            return Err(ApiError::new(
                405,
                format!("{method} is not allowed on {path}"),
                Some("GET /v1/status; every other endpoint takes POST".into()),
            ));
        }
        _ => {
            return Err(ApiError::new(
                404,
                format!("no endpoint {path}"),
                Some("see docs/api.md for the endpoints".into()),
            ));
        }
    };
    Ok(command)
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes.
async fn body<T: DeserializeOwned>(req: HttpRequest<Incoming>) -> Result<T, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            format!("request body larger than {MAX_BODY} bytes"),
            None,
        )
    };
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let collect = Limited::new(req.into_body(), MAX_BODY).collect();
    let bytes = tokio::time::timeout(HEADER_TIMEOUT, collect)
        .await
        .map_err(|_| ApiError::new(408, "the request body did not arrive in time", None))?
        .map_err(|_| too_large())?
        .to_bytes();
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(400, format!("malformed JSON body: {e}"), None))
}

fn respond<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| {
        serde_json::to_vec(&ErrorBody {
            error: "cannot encode the answer".into(),
            hint: None,
        })
        .unwrap_or_default()
    });
    encoded(status, bytes)
}

fn encoded(status: StatusCode, bytes: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}
