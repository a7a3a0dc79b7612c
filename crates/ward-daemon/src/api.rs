//! The control API: HTTP/1.1 with JSON bodies on the daemon's Unix socket.
//!
//! Each connection is served by its own task, which only parses and forwards: the request
//! goes to the supervisor through a channel with a one-shot reply. Nothing here touches a
//! unit. Only the daemon's own user (or root) may talk to it; the socket file is 0600 in a
//! 0700 directory as well.
//!
//! Connection slots. At most [`MAX_CONNECTIONS`] connections are served at once, and any
//! local process of an allowed user could try to hold them all. So:
//!
//! - A connection takes no slot until it has sent something: it waits for its first
//!   bytes for at most [`IDLE_TIMEOUT`] and is closed then. At most [`MAX_UNREAD`] wait
//!   so; more wait in the listen backlog.
//! - Once served, it must send a whole request head within [`IDLE_TIMEOUT`] (again after
//!   each answer, when it is kept alive), and the body within [`IDLE_TIMEOUT`] of the
//!   head. An idle or slow client holds a slot for two seconds at most.
//! - One slot of the [`MAX_CONNECTIONS`] is kept for `GET /v1/status`: a connection that
//!   finds the other 63 taken (by requests that wait for their units, say 63 `ward stop`s
//!   of a service with a long `stop_timeout`) gets the reserved slot, and there only a
//!   status is answered; anything else gets `503` at once. Which request a connection
//!   carries is known only once its head is read, so the slot is taken first and the
//!   request judged in it; a reserved connection carries one request and is closed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use ward_core::access::Access;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio::net::UnixStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use ward_api::ErrorBody;

use crate::query::Query;
use crate::requests::{ApiError, Command, Reply, Request};
use crate::routes::{Refusal, route};

/// Every answer's body: a whole one, or the stream of `GET /v1/events`.
pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// What a connection's requests reach besides the supervisor: the live events, and the
/// way to close the connection of an event reader that falls behind.
#[derive(Clone)]
pub(crate) struct Streams {
    pub events: Arc<crate::events::Bus>,
    pub kill: Arc<tokio::sync::Notify>,
}
use crate::supervisor::MAX_CONNECTIONS;

/// A connection must show its first bytes within this time of being accepted, its whole
/// request head within this time of being served (or of its last answer), and then its
/// body within this time of the head.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections accepted that have sent nothing yet (they hold no slot).
const MAX_UNREAD: usize = 256;

/// Accepts connections until the task is aborted. `connections` has
/// [`MAX_CONNECTIONS`] permits, one per connection served; the supervisor takes them all
/// at its end, to let the answers in flight be written.
pub(crate) async fn serve(
    listener: UnixListener,
    tx: mpsc::Sender<Request>,
    connections: Arc<Semaphore>,
    audit: crate::audit::Audit,
    open_to: ward_core::access::Groups,
    events: Arc<crate::events::Bus>,
) {
    let me = ward_sys::own_uid();
    // Every slot but one; the last is kept for status (see the module's documentation).
    let general = Arc::new(Semaphore::new(MAX_CONNECTIONS as usize - 1));
    let unread = Arc::new(Semaphore::new(MAX_UNREAD));
    loop {
        let Ok(waiting) = unread.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait instead of spinning.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (peer, access) = match crate::audit::peer(&stream) {
            Ok(peer) => {
                // Groups are read only when the config opens the socket to some.
                let groups = if open_to == Default::default() {
                    Vec::new()
                } else {
                    ward_sys::groups::of_process(peer.pid).unwrap_or_default()
                };
                match ward_core::access::decide(peer.uid, &groups, me, open_to) {
                    Access::Refused(why) => {
                        tracing::warn!(uid = peer.uid, "refused a connection: {why}");
                        audit.note(ward_store::audit::Event::Refused { why, peer });
                        continue;
                    }
                    access => (peer, access),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot identify the peer; connection refused");
                continue;
            }
        };
        let (tx, connections, general, audit, events) = (
            tx.clone(),
            connections.clone(),
            general.clone(),
            audit.clone(),
            events.clone(),
        );
        tokio::spawn(async move {
            // Nothing sent within the time: closed, without ever holding a slot.
            if !matches!(
                tokio::time::timeout(IDLE_TIMEOUT, first_bytes(&stream)).await,
                Ok(Ok(()))
            ) {
                return;
            }
            drop(waiting);
            let Some(slot) = take_slot(&connections, &general).await else {
                return;
            };
            serve_connection(stream, peer, access, slot, tx, audit, events).await;
        });
    }
}

/// Waits until the client has sent something (or closed its end). Readiness alone can be
/// reported before anything arrived, so the socket is peeked at to be sure.
async fn first_bytes(stream: &UnixStream) -> std::io::Result<()> {
    loop {
        stream.readable().await?;
        match stream.try_io(tokio::io::Interest::READABLE, || {
            ward_sys::has_input(stream)
        }) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// A served connection's hold, given back when it closes: its permit among all
/// connections and, unless it has the slot kept for status, a general slot.
struct Slot {
    general: Option<OwnedSemaphorePermit>,
    _all: OwnedSemaphorePermit,
}

/// A general slot if one is free; else the reserved one as soon as it is, or a general
/// one, whichever comes first. `None` once the server is closing.
async fn take_slot(connections: &Arc<Semaphore>, general: &Arc<Semaphore>) -> Option<Slot> {
    let as_general = |g: OwnedSemaphorePermit| async {
        // At most 63 general slots are held, so a permit is free but for reserved
        // connections, which are answered at once.
        let all = connections.clone().acquire_owned().await.ok()?;
        Some(Slot {
            general: Some(g),
            _all: all,
        })
    };
    if let Ok(g) = general.clone().try_acquire_owned() {
        return as_general(g).await;
    }
    tokio::select! {
        g = general.clone().acquire_owned() => as_general(g.ok()?).await,
        all = connections.clone().acquire_owned() => Some(Slot {
            general: None,
            _all: all.ok()?,
        }),
    }
}

async fn serve_connection(
    stream: UnixStream,
    peer: ward_store::audit::Peer,
    access: Access,
    slot: Slot,
    tx: mpsc::Sender<Request>,
    audit: crate::audit::Audit,
    events: Arc<crate::events::Bus>,
) {
    let who = peer;
    let reserved = slot.general.is_none();
    let streams = Streams {
        events,
        kill: Arc::new(tokio::sync::Notify::new()),
    };
    let kill = streams.kill.clone();
    let service = service_fn(move |req: HttpRequest<Incoming>| {
        let (tx, who, access, audit, streams) = (
            tx.clone(),
            who.clone(),
            access.clone(),
            audit.clone(),
            streams.clone(),
        );
        async move {
            if reserved && !(req.method() == Method::GET && req.uri().path() == "/v1/status") {
                return Ok(respond(StatusCode::SERVICE_UNAVAILABLE, &busy()));
            }
            answer(req, tx, who, access, audit, streams).await
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(IDLE_TIMEOUT)
        // A reserved slot serves one request, so that it is free again at once.
        .keep_alive(!reserved)
        .serve_connection(TokioIo::new(stream), service);
    // An event reader that fell behind is cut off here, even while its writes block.
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
    drop(slot);
}

/// The answer to a request other than status on the reserved slot.
fn busy() -> ErrorBody {
    ErrorBody {
        error: format!(
            "all {} connection slots of the daemon are taken; the last one is kept for GET /v1/status",
            MAX_CONNECTIONS - 1
        ),
        hint: Some(
            "try again once requests in progress are answered (a stop waits for its units); \
             `ward status` still answers"
                .into(),
        ),
    }
}

/// A reader (a member of `api_readers`, or the HTTP listener's read token or a session
/// of it) asked for `what`: refused, and recorded.
fn refuse_reader(audit: &crate::audit::Audit, who: ward_store::audit::Peer, what: &str) -> Refusal {
    let (why, hint) = match &who.addr {
        Some(addr) => (
            format!("the read-only token or session of {addr} may only read, not {what}"),
            "log in with the token of http.token to act",
        ),
        None => (
            format!("uid {} may only read (api_readers), not {what}", who.uid),
            "ask a member of api_group, or ward's own user",
        ),
    };
    audit.note(ward_store::audit::Event::Refused {
        why: why.clone(),
        peer: who,
    });
    Refusal::from(ApiError::new(403, why, Some(hint.into())))
}

pub(crate) async fn answer(
    req: HttpRequest<Incoming>,
    tx: mpsc::Sender<Request>,
    who: ward_store::audit::Peer,
    access: Access,
    audit: crate::audit::Audit,
    streams: Streams,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/v1/events" {
        if req.method() != Method::GET {
            let mut resp = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on /v1/events", req.method()),
                Some("GET /v1/events streams the events".into()),
            );
            resp.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET"),
            );
            return Ok(resp);
        }
        let usage = match Query::parse(req.uri().query().unwrap_or(""), "events", &["usage"])
            .and_then(|q| q.flag("usage"))
        {
            Ok(usage) => usage,
            Err(e) => return Ok(respond(StatusCode::BAD_REQUEST, &e.body)),
        };
        let body = streams.events.reader(streams.kill, usage);
        return Ok(event_stream(BodyExt::boxed(body)));
    }
    // `GET /v1/logs?follow=true`: the tail as the supervisor reads it, then a follower.
    let mut follow = false;
    let reply = match route(req).await {
        Ok(command) => {
            follow = matches!(command, Command::Logs { follow: true, .. });
            match (&access, command.audited()) {
                // A reader asked for something that acts.
                (Access::Read, Some((what, _))) => Err(refuse_reader(&audit, who, &what)),
                _ => forward(command, &tx, who).await.map_err(Refusal::from),
            }
        }
        Err(refusal) => Err(refusal),
    };
    if follow
        && let Ok(answer) = &reply
        && let Ok(tail) = serde_json::from_slice::<ward_api::LogsResponse>(&answer.body)
    {
        let body = crate::log_tail::follow(tail.file.into(), tail.lines, tail.offset);
        return Ok(event_stream(BodyExt::boxed(body)));
    }
    Ok(match reply {
        Ok(answer) => encoded(StatusCode::OK, answer.body, answer.content_type),
        Err(Refusal { error, allow }) => {
            let status =
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = respond(status, &error.body);
            if let Some(allow) = allow
                && let Ok(value) = hyper::header::HeaderValue::from_str(allow.as_str())
            {
                resp.headers_mut().insert(hyper::header::ALLOW, value);
            }
            resp
        }
    })
}

/// A stream of Server-Sent Events.
fn event_stream(body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    resp
}

async fn forward(
    command: Command,
    tx: &mpsc::Sender<Request>,
    peer: ward_store::audit::Peer,
) -> Reply {
    let (reply, rx) = oneshot::channel();
    let gone = || ApiError::new(503, "ward is shutting down", None);
    tx.send(Request {
        command,
        reply,
        who: format!("uid {}", peer.uid),
        peer,
    })
    .await
    .map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

/// An error answer, as the API gives them: `{"error": …, "hint": …}`.
pub(crate) fn error_response(
    status: StatusCode,
    error: String,
    hint: Option<String>,
) -> Response<Body> {
    respond(status, &ErrorBody { error, hint })
}

/// A `200` with a JSON body.
pub(crate) fn ok_json<T: serde::Serialize>(value: &T) -> Response<Body> {
    respond(StatusCode::OK, value)
}

fn respond<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| {
        serde_json::to_vec(&ErrorBody {
            error: "cannot encode the answer".into(),
            hint: None,
        })
        .unwrap_or_default()
    });
    encoded(status, bytes, "application/json")
}

fn encoded(status: StatusCode, bytes: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(BodyExt::boxed(Full::new(Bytes::from(bytes))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}
