//! The HTTP listener (`[supervisor] http`), for tools that cannot speak to a Unix socket:
//! a Prometheus server, a dashboard on another machine. The same API as the socket,
//! answered by the same code; what differs is who may ask. The kernel tells nothing of a
//! TCP peer's user, so `/metrics` is open to whoever reaches the address, and everything
//! else needs `Authorization: Bearer <token>` with the token of `<state_dir>/http.token`.
//! A refused request is answered `401` and recorded in the audit trail with the peer's
//! address. Request heads are limited to 16 KiB and bodies as on the socket, and a slow
//! client is cut off as there.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use ward_core::access::Access;
use ward_store::audit::Peer;

use crate::requests::Request;

/// Connections served at once; more wait in the listen backlog.
const MAX_HTTP_CONNECTIONS: usize = 32;

/// Longest request head.
const MAX_HEAD: usize = 16 * 1024;

/// Accepts connections until the task is aborted.
pub(crate) async fn serve(
    listener: TcpListener,
    token: Arc<String>,
    tx: mpsc::Sender<Request>,
    audit: crate::audit::Audit,
    events: Arc<crate::events::Bus>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HTTP_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept an HTTP connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (token, tx, audit) = (token.clone(), tx.clone(), audit.clone());
        let streams = crate::api::Streams {
            events: events.clone(),
            kill: Arc::new(tokio::sync::Notify::new()),
        };
        tokio::spawn(async move {
            let kill = streams.kill.clone();
            let service = service_fn(move |req: HttpRequest<Incoming>| {
                let (token, tx, audit, streams) =
                    (token.clone(), tx.clone(), audit.clone(), streams.clone());
                async move { answer(req, addr.to_string(), &token, tx, audit, streams).await }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(crate::api::IDLE_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
            }
            drop(slot);
        });
    }
}

async fn answer(
    req: HttpRequest<Incoming>,
    addr: String,
    token: &str,
    tx: mpsc::Sender<Request>,
    audit: crate::audit::Audit,
    streams: crate::api::Streams,
) -> Result<Response<crate::api::Body>, Infallible> {
    let peer = Peer::remote(addr);
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let access = match given {
        Some(t) if same(t.as_bytes(), token.as_bytes()) => Access::Full,
        // Metrics and the probes are for whoever can reach the address: a scraper and an
        // orchestrator's probe have no token.
        _ if matches!(req.uri().path(), "/metrics" | "/readyz" | "/livez") => Access::Read,
        _ => {
            let why = match given {
                Some(_) => "a wrong bearer token",
                None => "no bearer token",
            };
            let message = format!("{} {} over HTTP with {why}", req.method(), req.uri().path());
            audit.note(ward_store::audit::Event::Refused {
                why: message.clone(),
                peer,
            });
            let mut resp = crate::api::error_response(
                StatusCode::UNAUTHORIZED,
                message,
                Some(
                    "send `Authorization: Bearer TOKEN` with the token in the state dir's \
                     http.token (only /metrics, /readyz and /livez are open without one)"
                        .into(),
                ),
            );
            resp.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            return Ok(resp);
        }
    };
    crate::api::answer(req, tx, peer, access, audit, streams).await
}

/// Compares in time that depends on the length alone, so that the time of a refusal
/// tells nothing of how much of a guess was right. Written here because it is four
/// lines; a crate for it would bring more than it saves.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdef", b"abcdeg"));
        assert!(!same(b"abcdef", b"abcde"));
        assert!(!same(b"", b"x"));
    }
}
