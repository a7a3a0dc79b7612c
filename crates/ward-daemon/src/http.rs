//! The HTTP listener (`[supervisor] http`), for tools that cannot speak to a Unix socket:
//! a Prometheus server, a dashboard on another machine. The same API as the socket,
//! answered by the same code; what differs is who may ask. The kernel tells nothing of a
//! TCP peer's user, so `/metrics` is open to whoever reaches the address, and everything
//! else needs `Authorization: Bearer <token>` with the token of `<state_dir>/http.token`
//! (every request) or `<state_dir>/http.read.token` (reads), or the cookie of a session
//! a browser opened with one of them (`sessions`). The dashboard's files (`web`) are open:
//! they hold no data. A refused request is answered `401` and recorded in the audit trail
//! with the peer's address. Request heads are limited to 16 KiB and bodies as on the socket, and a slow
//! client is cut off as there.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
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
    shared: Arc<Shared>,
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
        let (shared, tx, audit) = (shared.clone(), tx.clone(), audit.clone());
        let streams = crate::api::Streams {
            events: events.clone(),
            kill: Arc::new(tokio::sync::Notify::new()),
        };
        tokio::spawn(async move {
            let kill = streams.kill.clone();
            let service = service_fn(move |req: HttpRequest<Incoming>| {
                let (shared, tx, audit, streams) =
                    (shared.clone(), tx.clone(), audit.clone(), streams.clone());
                async move {
                    let mut resp = answer(req, addr.to_string(), &shared, tx, audit, streams).await;
                    crate::web::harden(&mut resp);
                    Ok::<_, Infallible>(resp)
                }
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

/// The listener's two tokens: `http.token` may do everything, `http.read.token` read.
pub(crate) struct Tokens {
    pub full: String,
    pub read: String,
}

impl Tokens {
    /// What a given token allows; `None` for a wrong one.
    fn access(&self, given: &str) -> Option<Access> {
        if same(given.as_bytes(), self.full.as_bytes()) {
            Some(Access::Full)
        } else if same(given.as_bytes(), self.read.as_bytes()) {
            Some(Access::Read)
        } else {
            None
        }
    }
}

/// What every connection's requests share.
pub(crate) struct Shared {
    pub tokens: Tokens,
    pub sessions: crate::sessions::Sessions,
}

/// The answer to one request, before the headers every answer carries.
async fn answer(
    req: HttpRequest<Incoming>,
    addr: String,
    shared: &Shared,
    tx: mpsc::Sender<Request>,
    audit: crate::audit::Audit,
    streams: crate::api::Streams,
) -> Response<crate::api::Body> {
    let peer = Peer::remote(addr);
    let path = req.uri().path().to_string();
    if req.method() == Method::GET
        && let Some(asset) = crate::web::asset(&path)
    {
        return crate::web::serve(asset);
    }
    match (req.method(), path.as_str()) {
        (&Method::POST, "/v1/login") => return login(req, shared, &audit, peer).await,
        (&Method::POST, "/v1/logout") => return logout(&req, shared),
        (&Method::GET, "/v1/session") => return session_info(&req, shared),
        _ => {}
    }
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let session = session_of(&req, shared);
    let access = match (given, session) {
        (Some(t), _) => shared.tokens.access(t),
        (None, Some(s)) => {
            // A session's writes carry its CSRF value: a page of another origin can make
            // the browser send the cookie (were it not SameSite) but not read the value.
            let sent = req
                .headers()
                .get(crate::sessions::CSRF_HEADER)
                .map(|v| v.as_bytes());
            if req.method() != Method::GET && !sent.is_some_and(|v| same(v, s.csrf.as_bytes())) {
                let message = format!(
                    "{} {} over HTTP with a session cookie but without its {} header",
                    req.method(),
                    path,
                    crate::sessions::CSRF_HEADER
                );
                audit.note(ward_store::audit::Event::Refused {
                    why: message.clone(),
                    peer,
                });
                return crate::api::error_response(
                    StatusCode::FORBIDDEN,
                    message,
                    Some("send the csrf value of GET /v1/session in X-Ward-CSRF".into()),
                );
            }
            Some(s.access)
        }
        (None, None) => None,
    };
    let access = match access {
        Some(a) => a,
        // Metrics and the probes are for whoever can reach the address: a scraper and an
        // orchestrator's probe have no token.
        None if matches!(path.as_str(), "/metrics" | "/readyz" | "/livez") => Access::Read,
        None => {
            let why = match given {
                Some(_) => "a wrong bearer token",
                None => "no bearer token",
            };
            let message = format!("{} {} over HTTP with {why}", req.method(), path);
            return unauthorized(&audit, peer, message);
        }
    };
    match crate::api::answer(req, tx, peer, access, audit, streams).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// `401`, recorded in the audit trail.
fn unauthorized(
    audit: &crate::audit::Audit,
    peer: Peer,
    message: String,
) -> Response<crate::api::Body> {
    audit.note(ward_store::audit::Event::Refused {
        why: message.clone(),
        peer,
    });
    let mut resp = crate::api::error_response(
        StatusCode::UNAUTHORIZED,
        message,
        Some(
            "send `Authorization: Bearer TOKEN` with the token in the state dir's \
             http.token (or http.read.token, to read), or log in at / \
             (only /metrics, /readyz and /livez are open without one)"
                .into(),
        ),
    );
    resp.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        hyper::header::HeaderValue::from_static("Bearer"),
    );
    resp
}

/// The session id a request's cookie carries.
fn cookie_of(req: &HttpRequest<Incoming>) -> Option<&str> {
    req.headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(crate::sessions::cookie_id)
}

/// The live session a request's cookie names.
fn session_of(req: &HttpRequest<Incoming>, shared: &Shared) -> Option<crate::sessions::Session> {
    cookie_of(req).and_then(|id| shared.sessions.get(id))
}

/// `POST /v1/login`: a token for a session.
async fn login(
    req: HttpRequest<Incoming>,
    shared: &Shared,
    audit: &crate::audit::Audit,
    peer: Peer,
) -> Response<crate::api::Body> {
    let read = http_body_util::Limited::new(req.into_body(), 4096).collect();
    let body = match tokio::time::timeout(crate::api::IDLE_TIMEOUT, read).await {
        Ok(Ok(b)) => b.to_bytes(),
        _ => {
            return crate::api::error_response(
                StatusCode::BAD_REQUEST,
                "the body of POST /v1/login is larger than 4096 bytes, broken, or slower than 2 s"
                    .into(),
                Some(r#"send {"token": "…"}"#.into()),
            );
        }
    };
    let Ok(login) = serde_json::from_slice::<ward_api::LoginRequest>(&body) else {
        return crate::api::error_response(
            StatusCode::BAD_REQUEST,
            "the body of POST /v1/login is not {\"token\": \"…\"}".into(),
            Some("send the content of the state dir's http.token or http.read.token".into()),
        );
    };
    let Some(access) = shared.tokens.access(login.token.trim()) else {
        return unauthorized(
            audit,
            peer,
            "POST /v1/login over HTTP with a wrong token".into(),
        );
    };
    let (id, session) = match shared.sessions.begin(access.clone()) {
        Ok(s) => s,
        Err(e) => {
            return crate::api::error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot make a session: {e}"),
                None,
            );
        }
    };
    let what = match access {
        Access::Full => "login (full access)",
        _ => "login (read access)",
    };
    audit.note(ward_store::audit::Event::Action {
        peer,
        what: what.into(),
        targets: Vec::new(),
    });
    let mut resp = session_answer(&session);
    if let Ok(v) = hyper::header::HeaderValue::from_str(&crate::sessions::set_cookie(&id)) {
        resp.headers_mut().insert(hyper::header::SET_COOKIE, v);
    }
    resp
}

/// `POST /v1/logout`: the session ends, and the cookie with it.
fn logout(req: &HttpRequest<Incoming>, shared: &Shared) -> Response<crate::api::Body> {
    if let Some(id) = cookie_of(req) {
        shared.sessions.end(id);
    }
    let mut resp = crate::api::ok_json(&ward_api::Ack { ok: true });
    if let Ok(v) = hyper::header::HeaderValue::from_str(&crate::sessions::clear_cookie()) {
        resp.headers_mut().insert(hyper::header::SET_COOKIE, v);
    }
    resp
}

/// `GET /v1/session`: what the cookie's session may do, and its CSRF value.
fn session_info(req: &HttpRequest<Incoming>, shared: &Shared) -> Response<crate::api::Body> {
    match session_of(req, shared) {
        Some(s) => session_answer(&s),
        None => crate::api::error_response(
            StatusCode::UNAUTHORIZED,
            "no session: log in with a token first".into(),
            Some(r#"POST /v1/login with {"token": "…"}"#.into()),
        ),
    }
}

fn session_answer(s: &crate::sessions::Session) -> Response<crate::api::Body> {
    crate::api::ok_json(&ward_api::SessionInfo {
        access: match s.access {
            Access::Full => "full".into(),
            _ => "read".into(),
        },
        csrf: s.csrf.clone(),
    })
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
