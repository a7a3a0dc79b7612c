//! What a request asks: its method and path mapped to an endpoint, its query and body
//! read and checked, and the command for the supervisor made of them; or the `4xx` that
//! says what is wrong. Pure but for reading the body, so that it is tested with generated
//! requests and fuzzed (`decode`).

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::Method;
use hyper::Request as HttpRequest;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use ward_api::MAX_BODY;

use crate::api::IDLE_TIMEOUT;
use crate::query::Query;
use crate::requests::{ApiError, Command};

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
            Endpoint::Status
                | Endpoint::Why
                | Endpoint::History
                | Endpoint::Logs
                | Endpoint::Config
        )
    }
}

/// A request answered before it reaches the supervisor: the error, and for a `405` the
/// method the path takes.
#[derive(Debug)]
pub struct Refusal {
    pub(crate) error: ApiError,
    pub(crate) allow: Option<Method>,
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
pub(crate) async fn route(req: HttpRequest<Incoming>) -> Result<Command, Refusal> {
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
        Endpoint::Status => {
            let q = Query::parse(query, "status", &["stats"])?;
            Command::Status {
                stats: q.flag("stats")?,
            }
        }
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
                        Command::Status { .. }
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
