//! The HTTP health probe: `GET` a URL of the service's own, healthy on an expected status
//! (and body). Written on hyper's client connection, since no external `curl` may be
//! needed, and one plain request on a fresh connection is all a probe asks.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use ward_core::config::HttpProbe;
use ward_core::health::ProbeFailure;

/// How much of a body is read to look for `expect_body`.
const MAX_BODY: usize = 64 * 1024;

/// One probe; the caller bounds it by the probe's timeout.
pub(crate) async fn get(h: &HttpProbe) -> Result<(), ProbeFailure> {
    let failed = |error: String| ProbeFailure::Http {
        path: h.path.clone(),
        error,
    };
    let stream = TcpStream::connect(&h.addr)
        .await
        .map_err(|e| ProbeFailure::Connect {
            addr: h.addr.clone(),
            error: e.to_string(),
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(e.to_string()))?;
    // The connection is driven until the answer is read; dropping the sender ends it.
    tokio::spawn(conn);
    let mut req = Request::get(h.path.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed(e.to_string()))?;
    let headers = req.headers_mut();
    let value =
        |v: &str| hyper::header::HeaderValue::from_str(v).map_err(|e| failed(e.to_string()));
    headers.insert(hyper::header::HOST, value(&h.host)?);
    headers.insert(hyper::header::USER_AGENT, value("ward-health-probe")?);
    for (name, v) in &h.headers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
        headers.insert(name, value(v)?);
    }
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = resp.status().as_u16();
    let (lo, hi) = h.expect_status;
    if !(lo..=hi).contains(&status) {
        return Err(ProbeFailure::HttpStatus {
            path: h.path.clone(),
            status,
        });
    }
    if let Some(expected) = &h.expect_body {
        // A body larger than the limit is looked at up to it.
        let body = match Limited::new(resp.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.to_string().contains("length limit") => Bytes::new(),
            Err(e) => return Err(failed(e.to_string())),
        };
        if memchr::memmem::find(&body, expected.as_bytes()).is_none() {
            return Err(ProbeFailure::HttpBody {
                path: h.path.clone(),
                expected: expected.clone(),
            });
        }
    }
    Ok(())
}
