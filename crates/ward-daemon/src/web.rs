//! The dashboard's files, built into the binary (`web/`): served at `/` by the HTTP
//! listener with no token, since they hold no data; the page asks the API for everything
//! it shows. Every answer of the listener carries the headers that keep a browser strict:
//! a Content-Security-Policy that allows only this origin's own script and style (no
//! inline script, no `eval`, no frames), no MIME sniffing, no referrer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

/// One file of the page.
pub(crate) struct Asset {
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

/// The page's files by path.
const ASSETS: &[(&str, Asset)] = &[
    (
        "/",
        Asset {
            bytes: include_bytes!("../web/index.html"),
            content_type: "text/html; charset=utf-8",
        },
    ),
    (
        "/ui/app.js",
        Asset {
            bytes: include_bytes!("../web/app.js"),
            content_type: "text/javascript; charset=utf-8",
        },
    ),
    (
        "/ui/style.css",
        Asset {
            bytes: include_bytes!("../web/style.css"),
            content_type: "text/css; charset=utf-8",
        },
    ),
    (
        "/ui/icon.svg",
        Asset {
            bytes: include_bytes!("../web/icon.svg"),
            content_type: "image/svg+xml",
        },
    ),
];

/// The page's policy: this origin's files and API, nothing inline, nothing framed.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The file at `path`, if it is one of the page's.
pub(crate) fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, a)| a)
}

/// The whole size of the page's files, for the record (`bench/RESULTS.md`).
pub fn page_bytes() -> usize {
    ASSETS.iter().map(|(_, a)| a.bytes.len()).sum()
}

/// A file of the page as an answer.
pub(crate) fn serve(asset: &Asset) -> Response<crate::api::Body> {
    let mut resp = Response::new(BodyExt::boxed(Full::new(Bytes::from_static(asset.bytes))));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // The files change only with the binary: the browser asks again each time.
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    resp
}

/// The headers every answer of the listener carries.
pub(crate) fn harden<B>(resp: &mut Response<B>) {
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style_and_names_only_its_own_files() {
        let html = std::str::from_utf8(asset("/").unwrap().bytes).unwrap();
        // Every <script> has a src of this origin, and no element has an event attribute
        // or a style: the policy would block them, so the page must not need them.
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or("");
            if tag.starts_with("script") {
                assert!(tag.contains("src=\"/ui/"), "inline script: <{tag}>");
            }
            assert!(!tag.contains(" on"), "event attribute: <{tag}>");
            assert!(!tag.contains("style="), "inline style: <{tag}>");
            assert!(!tag.starts_with("style"), "inline stylesheet");
            assert!(
                !tag.contains("http://") && !tag.contains("https://"),
                "a remote file: <{tag}>"
            );
        }
        let js = std::str::from_utf8(asset("/ui/app.js").unwrap().bytes).unwrap();
        // Text goes in as text: the page never parses a string as HTML.
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(sink), "app.js uses {sink}");
        }
        assert!(asset("/ui/nope.js").is_none());
        assert!(
            page_bytes() < 64 * 1024,
            "the page is {} bytes",
            page_bytes()
        );
    }
}
