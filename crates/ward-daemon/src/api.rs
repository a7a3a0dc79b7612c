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
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::de::DeserializeOwned;
use tokio::net::UnixListener;
use tokio::net::UnixStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use ward_api::{ErrorBody, MAX_BODY};

use crate::query::Query;
use crate::requests::{ApiError, Command, Reply, Request};

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

/// What a path asks of the supervisor.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Status,
    Start,
    Stop,
    Restart,
    Signal,
    Reload,
    Shutdown,
    ReopenLogs,
    Backup,
    JournalSync,
    Metrics,
    Ready,
    Live,
    Why,
    History,
    Logs,
    Config,
    Usage,
}

/// Every path, the one method it takes, and its endpoint. A known path asked with another
/// method gets `405`, with this method in its `Allow` header.
const ROUTES: &[(&str, Method, Endpoint)] = &[
    ("/v1/status", Method::GET, Endpoint::Status),
    ("/v1/start", Method::POST, Endpoint::Start),
    ("/v1/stop", Method::POST, Endpoint::Stop),
    ("/v1/restart", Method::POST, Endpoint::Restart),
    ("/v1/signal", Method::POST, Endpoint::Signal),
    ("/v1/reload", Method::POST, Endpoint::Reload),
    ("/v1/shutdown", Method::POST, Endpoint::Shutdown),
    ("/v1/logs/reopen", Method::POST, Endpoint::ReopenLogs),
    ("/v1/backup", Method::POST, Endpoint::Backup),
    ("/v1/journal/sync", Method::POST, Endpoint::JournalSync),
    ("/metrics", Method::GET, Endpoint::Metrics),
    ("/readyz", Method::GET, Endpoint::Ready),
    ("/livez", Method::GET, Endpoint::Live),
    ("/v1/why", Method::GET, Endpoint::Why),
    ("/v1/history", Method::GET, Endpoint::History),
    ("/v1/logs", Method::GET, Endpoint::Logs),
    ("/v1/config", Method::GET, Endpoint::Config),
    ("/v1/usage", Method::GET, Endpoint::Usage),
];

impl Endpoint {
    /// Whether the endpoint reads a JSON body.
    fn takes_body(self) -> bool {
        matches!(
            self,
            Endpoint::Start | Endpoint::Stop | Endpoint::Restart | Endpoint::Signal
        )
    }

    /// Whether the endpoint needs a query (`?name=…`).
    #[cfg(test)]
    fn takes_query(self) -> bool {
        matches!(
            self,
            Endpoint::Why | Endpoint::History | Endpoint::Logs | Endpoint::Config
        )
    }
}

/// A request answered before it reaches the supervisor: the error, and for a `405` the
/// method the path takes.
#[derive(Debug)]
pub struct Refusal {
    error: ApiError,
    allow: Option<Method>,
}

impl Refusal {
    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.error.status
    }

    /// For a `405`, the one method the path takes, sent in the `Allow` header.
    pub fn allow(&self) -> Option<&str> {
        self.allow.as_ref().map(Method::as_str)
    }

    /// What the answer's body says is wrong.
    pub fn message(&self) -> &str {
        &self.error.body.error
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal { error, allow: None }
    }
}

/// Maps method and path to a command, reading and checking the body.
async fn route(req: HttpRequest<Incoming>) -> Result<Command, Refusal> {
    let endpoint = endpoint(req.method().as_str(), req.uri().path())?;
    let query = req.uri().query().unwrap_or("").to_string();
    // Only the endpoints that take a body wait for one.
    let body = if endpoint.takes_body() {
        read_body(req).await?
    } else {
        Bytes::new()
    };
    Ok(command(endpoint, &query, &body)?)
}

/// Decodes one request: its method, its path, its query and its body as read (whole, at most
/// [`MAX_BODY`] bytes). Pure, so that it can be fuzzed; the server reads the body only
/// for the endpoints that take one, and answers `413`, `408` or `400` for a body too
/// large, too slow or broken (a bad chunk) before it gets here.
pub fn decode(method: &str, path: &str, query: &str, body: &[u8]) -> Result<Command, Refusal> {
    let endpoint = endpoint(method, path)?;
    Ok(command(endpoint, query, body)?)
}

/// The endpoint of a path: `404` for an unknown path, `405` for a known one asked with
/// another method.
fn endpoint(method: &str, path: &str) -> Result<Endpoint, Refusal> {
    let Some((_, allowed, endpoint)) = ROUTES.iter().find(|(p, ..)| *p == path) else {
        return Err(ApiError::new(
            404,
            format!("no endpoint {path}"),
            Some("see docs/api.md for the endpoints".into()),
        )
        .into());
    };
    if method != allowed.as_str() {
        return Err(Refusal {
            error: ApiError::new(
                405,
                format!("{method} is not allowed on {path}"),
                Some(format!(
                    "GET {}; every other endpoint takes POST",
                    ROUTES
                        .iter()
                        .filter(|(_, m, _)| *m == Method::GET)
                        .map(|(p, ..)| *p)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ),
            allow: Some(allowed.clone()),
        });
    }
    Ok(*endpoint)
}

/// The command for an endpoint; `body` and `query` are read only by the endpoints that
/// take them.
fn command(endpoint: Endpoint, query: &str, body: &[u8]) -> Result<Command, ApiError> {
    Ok(match endpoint {
        Endpoint::Status => Command::Status,
        Endpoint::Start => Command::Start(selection(body, "start")?),
        Endpoint::Stop => Command::Stop(selection(body, "stop")?),
        Endpoint::Restart => Command::Restart(selection(body, "restart")?),
        Endpoint::Signal => {
            let req: ward_api::SignalRequest =
                json_body(body, "signal", &["names", "all", "signal"])?;
            few_enough(&req.selection)?;
            Command::Signal(req)
        }
        Endpoint::Reload => Command::Reload,
        Endpoint::Shutdown => Command::Shutdown,
        Endpoint::ReopenLogs => Command::ReopenLogs,
        Endpoint::Backup => Command::Backup,
        Endpoint::JournalSync => Command::JournalSync,
        Endpoint::Metrics => Command::Metrics,
        Endpoint::Ready => Command::Ready,
        Endpoint::Live => Command::Live,
        Endpoint::Why => {
            let q = Query::parse(query, "why", &["name", "run"])?;
            Command::Why {
                name: q.name()?,
                run: q.number("run", 1, u32::MAX)?,
            }
        }
        Endpoint::History => {
            let q = Query::parse(query, "history", &["name", "limit"])?;
            Command::History {
                name: q.name()?,
                limit: q.number("limit", 1, 10_000)?.unwrap_or(200),
            }
        }
        Endpoint::Logs => {
            let q = Query::parse(query, "logs", &["name", "lines", "follow"])?;
            Command::Logs {
                name: q.name()?,
                lines: q
                    .number("lines", 0, crate::log_tail::MAX_LINES)?
                    .unwrap_or(100),
                follow: q.flag("follow")?,
            }
        }
        Endpoint::Config => {
            let q = Query::parse(query, "config", &["name"])?;
            Command::Config { name: q.name()? }
        }
        Endpoint::Usage => Command::Usage,
    })
}

/// Reads a body of at most [`MAX_BODY`] bytes.
async fn read_body(req: HttpRequest<Incoming>) -> Result<Bytes, ApiError> {
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
    Ok(tokio::time::timeout(IDLE_TIMEOUT, collect)
        .await
        .map_err(|_| ApiError::new(408, "the request body did not arrive in time", None))?
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                // A chunk size that is no number, a chunk that does not end where it
                // says, a connection closed halfway: the body is broken, not too large.
                ApiError::new(
                    400,
                    format!("malformed request body: {}", with_causes(&*e)),
                    Some("send a JSON body, with Content-Length or well-formed chunks".into()),
                )
            }
        })?
        .to_bytes())
}

/// A JSON body; an empty one (or only white space) is `{}`.
/// The most units one request may name.
pub(crate) const MAX_NAMES: usize = 1024;

/// A body of `POST /v1/ENDPOINT` with only the fields in `known`: a misspelt field would
/// otherwise be ignored, and `{"name": "web"}` would act on no unit at all.
fn json_body<T: DeserializeOwned>(
    body: &[u8],
    endpoint: &str,
    known: &[&str],
) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, format!("malformed JSON body: {e}"), None))?;
    if let Some(object) = value.as_object()
        && let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str()))
    {
        return Err(ApiError::new(
            400,
            format!("unknown field `{unknown}` in the body of POST /v1/{endpoint}"),
            Some(format!("the fields are: {}", known.join(", "))),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(400, format!("malformed JSON body: {e}"), None))
}

/// The body of start, stop and restart.
fn selection(body: &[u8], endpoint: &str) -> Result<ward_api::Selection, ApiError> {
    let sel = json_body(body, endpoint, &["names", "all"])?;
    few_enough(&sel)?;
    Ok(sel)
}

fn few_enough(sel: &ward_api::Selection) -> Result<(), ApiError> {
    if sel.names.len() > MAX_NAMES {
        return Err(ApiError::new(
            400,
            format!(
                "a request may name at most {MAX_NAMES} units; this one names {}",
                sel.names.len()
            ),
            Some("name their services instead, or use `all`".into()),
        ));
    }
    Ok(())
}

/// An error and each of its sources: hyper's own words ("error reading a body from
/// connection") say little without the cause ("invalid chunk size line").
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ward_api::{Selection, SignalRequest};

    const METHODS: &[&str] = &[
        "GET", "POST", "PUT", "DELETE", "HEAD", "get", "post", "BREW",
    ];

    /// The endpoints' paths, near misses of them, and anything.
    fn path() -> impl Strategy<Value = String> {
        let known = prop::sample::select(ROUTES).prop_map(|(p, ..)| p.to_string());
        let near = (prop::sample::select(ROUTES), 0..4usize).prop_map(|((p, ..), how)| match how {
            0 => format!("{p}/"),
            1 => p.to_uppercase(),
            2 => format!("/{p}"),
            _ => p[..p.len() - 1].to_string(),
        });
        prop_oneof![3 => known, 2 => near, 1 => "/\\PC{0,20}"]
    }

    fn method() -> impl Strategy<Value = String> {
        let known = prop::sample::select(METHODS).prop_map(str::to_string);
        prop_oneof![4 => known, 1 => "[A-Za-z]{0,8}"]
    }

    fn selection() -> impl Strategy<Value = Selection> {
        (prop::collection::vec("\\PC{0,12}", 0..4), any::<bool>())
            .prop_map(|(names, all)| Selection { names, all })
    }

    /// A body: JSON that fits an endpoint, JSON that does not, or any bytes.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            selection().prop_map(|s| serde_json::to_vec(&s).unwrap()),
            (selection(), "\\PC{0,8}").prop_map(|(selection, signal)| {
                serde_json::to_vec(&SignalRequest { selection, signal }).unwrap()
            }),
            prop::sample::select(vec![
                "",
                " \r\n",
                "{}",
                "null",
                "[]",
                "5",
                "{\"names\": 5}",
                "{\"all\": \"yes\"}",
                "{\"names\": [\"a\"], \"extra\": 1}",
                "{\"signal\": 9}",
                "{not json",
            ])
            .prop_map(|b| b.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..64),
        ]
    }

    proptest! {
        #[test]
        fn every_request_is_decoded_or_refused_with_a_client_error(
            method in method(),
            path in path(),
            body in body(),
        ) {
            let route = ROUTES.iter().find(|(p, ..)| *p == path);
            match (decode(&method, &path, "", &body), route) {
                (Err(refusal), None) => prop_assert_eq!(refusal.status(), 404),
                (Err(refusal), Some((_, allowed, _))) if method != allowed.as_str() => {
                    prop_assert_eq!(refusal.status(), 405);
                    prop_assert_eq!(refusal.allow(), Some(allowed.as_str()));
                }
                (Err(refusal), Some((_, _, endpoint))) => {
                    // Only a body, or a query missing, can be wrong on the right path with
                    // the right method.
                    prop_assert!(
                        endpoint.takes_body() || endpoint.takes_query(),
                        "{endpoint:?} refused: {refusal:?}"
                    );
                    prop_assert_eq!(refusal.status(), 400);
                    prop_assert!(
                        refusal.message().starts_with("malformed JSON body")
                            || refusal.message().starts_with("unknown field `")
                            || refusal.message().contains("needs `name` in its query"),
                        "{}",
                        refusal.message()
                    );
                    prop_assert_eq!(refusal.allow(), None);
                }
                (Ok(_), None) => prop_assert!(false, "{path} is no endpoint"),
                (Ok(command), Some((_, allowed, endpoint))) => {
                    prop_assert_eq!(method.as_str(), allowed.as_str());
                    let body_less = matches!(
                        command,
                        Command::Status
                            | Command::Reload
                            | Command::Shutdown
                            | Command::ReopenLogs
                            | Command::Backup
                            | Command::JournalSync
                            | Command::Metrics
                            | Command::Ready
                            | Command::Live
                            | Command::Usage
                    );
                    prop_assert_eq!(body_less, !endpoint.takes_body(), "{:?}", command);
                }
            }
        }

        #[test]
        fn a_selection_arrives_as_sent(
            selection in selection(),
            which in 0..3usize,
            pretty in any::<bool>(),
        ) {
            let body = if pretty {
                serde_json::to_vec_pretty(&selection).unwrap()
            } else {
                serde_json::to_vec(&selection).unwrap()
            };
            let (path, expected) = match which {
                0 => ("/v1/start", Command::Start(selection.clone())),
                1 => ("/v1/stop", Command::Stop(selection.clone())),
                _ => ("/v1/restart", Command::Restart(selection.clone())),
            };
            prop_assert_eq!(decode("POST", path, "", &body).unwrap(), expected);
            // Cut short, it is refused as malformed, never read as less than was sent.
            for cut in 1..body.len() {
                let refusal = decode("POST", path, "", &body[..cut]).unwrap_err();
                prop_assert_eq!(refusal.status(), 400);
            }
        }

        #[test]
        fn a_signal_request_arrives_as_sent(selection in selection(), signal in "\\PC{0,12}") {
            let request = SignalRequest { selection, signal };
            let body = serde_json::to_vec(&request).unwrap();
            prop_assert_eq!(decode("POST", "/v1/signal", "", &body).unwrap(), Command::Signal(request));
        }

        #[test]
        fn an_empty_body_selects_nothing(space in "[ \t\r\n]{0,4}") {
            let stop = decode("POST", "/v1/stop", "", space.as_bytes()).unwrap();
            prop_assert_eq!(stop, Command::Stop(Selection::default()));
            // A signal needs its name.
            let signal = decode("POST", "/v1/signal", "", space.as_bytes()).unwrap_err();
            prop_assert_eq!(signal.status(), 400);
        }
    }
}
