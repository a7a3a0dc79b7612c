//! A minimal HTTP/1.1 client over the daemon's Unix socket, one connection per request.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// The largest answer the CLI reads.
pub const MAX_ANSWER: usize = 256 << 20;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio::net::UnixStream;

use crate::ErrorBody;

/// Talks to one daemon.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error("cannot reach the ward daemon at {socket}: {source}")]
    Connect {
        /// The socket path.
        socket: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The daemon answered with an error.
    #[error("{}", .body.error)]
    Api {
        /// HTTP status.
        status: u16,
        /// The daemon's explanation.
        body: ErrorBody,
    },
    /// The connection broke, or the answer was not HTTP or too large.
    #[error("bad answer from the ward daemon: {0}")]
    Protocol(String),
}

impl Client {
    /// A client for the daemon listening on `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            socket: socket.into(),
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET path`: the answer's bytes, for the caller to decode or pass on as they came.
    pub async fn get(&self, path: &str) -> Result<Bytes, ClientError> {
        self.send(Method::GET, path, Bytes::new()).await
    }

    /// `POST path` with a JSON body: the answer's bytes.
    pub async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Bytes, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.send(Method::POST, path, Bytes::from(bytes)).await
    }

    /// Sends a request; the body of a successful answer, or the error it was.
    async fn send(&self, method: Method, path: &str, body: Bytes) -> Result<Bytes, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ClientError::Connect {
                    socket: self.socket.clone(),
                    source,
                })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "ward")
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let status = resp.status();
        // Far more than any answer of a real daemon (a status of 10,000 units is about
        // 5 MB): a socket that streams without end does not take the CLI's memory.
        let bytes = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ClientError::Protocol(format!(
                        "the answer is larger than {} MiB; is it a ward daemon on this socket?",
                        MAX_ANSWER >> 20
                    ))
                } else {
                    ClientError::Protocol(e.to_string())
                }
            })?
            .to_bytes();
        if status != StatusCode::OK {
            let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
                error: String::from_utf8_lossy(&bytes).into_owned(),
                hint: None,
            });
            return Err(ClientError::Api {
                status: status.as_u16(),
                body,
            });
        }
        Ok(bytes)
    }
}
