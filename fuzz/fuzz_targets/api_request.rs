//! Control API requests: any method, path, query and body is decoded or refused with 400,
//! 404 or 405, never a panic; a 405 names the method the path takes, and only a request
//! on the right path with the right method reaches a command.
//!
//! Input: a first byte below 0xc0 picks a method and one of the documented paths (so the
//! fuzzer spends its time on bodies); otherwise the next line is the method and the one
//! after it the path, whose query (after `?`) is decoded too. The rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_daemon::{Command, decode};

/// docs/api.md's endpoints, and the method each takes.
const ROUTES: &[(&str, &str)] = &[
    ("/v1/status", "GET"),
    ("/v1/start", "POST"),
    ("/v1/stop", "POST"),
    ("/v1/restart", "POST"),
    ("/v1/signal", "POST"),
    ("/v1/reload", "POST"),
    ("/v1/shutdown", "POST"),
    ("/v1/logs/reopen", "POST"),
    ("/v1/backup", "POST"),
    ("/v1/journal/sync", "POST"),
    ("/v1/why", "GET"),
    ("/v1/history", "GET"),
    ("/v1/logs", "GET"),
    ("/v1/config", "GET"),
    ("/v1/usage", "GET"),
];

const METHODS: &[&str] = &["POST", "GET", "PUT", "post"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (method, target, body) = if first < 0xc0 {
        let (path, _) = ROUTES[usize::from(first) % ROUTES.len()];
        // Mostly the right method.
        let method = METHODS[usize::from(first) / ROUTES.len() % METHODS.len()];
        (method.to_string(), path.to_string(), rest)
    } else {
        let mut parts = rest.splitn(3, |&b| b == b'\n');
        let method = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let path = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        (method, path, parts.next().unwrap_or_default())
    };
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let route = ROUTES.iter().find(|(p, _)| *p == path);
    match (decode(&method, path, query, body), route) {
        (Ok(command), Some(&(_, allowed))) => {
            assert_eq!(method, allowed, "{command:?}");
            let with_body = matches!(
                command,
                Command::Start(_) | Command::Stop(_) | Command::Restart(_) | Command::Signal(_)
            );
            assert_eq!(
                with_body,
                ["/v1/start", "/v1/stop", "/v1/restart", "/v1/signal"].contains(&path)
            );
        }
        (Ok(command), None) => panic!("{path} is no endpoint, yet decoded to {command:?}"),
        (Err(refusal), None) => assert_eq!(refusal.status(), 404, "{refusal:?}"),
        (Err(refusal), Some(&(_, allowed))) if method != allowed => {
            assert_eq!(refusal.status(), 405, "{refusal:?}");
            assert_eq!(refusal.allow(), Some(allowed));
        }
        (Err(refusal), Some(_)) => {
            assert_eq!(refusal.status(), 400, "{refusal:?}");
            assert_eq!(refusal.allow(), None);
        }
    }
});
