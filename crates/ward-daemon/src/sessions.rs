//! The dashboard's sessions on the HTTP listener. A browser gives a token once
//! (`POST /v1/login`); the daemon answers with a session cookie (`HttpOnly`, so no script
//! reads it, and `SameSite=Strict`, so no other site's page sends it) and a CSRF value
//! that the page sends back in `X-Ward-CSRF` with every `POST`. The token itself never
//! rests in the browser. Sessions live in the daemon's memory: a new daemon asks again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ward_core::access::Access;

/// The cookie's name.
pub(crate) const COOKIE: &str = "ward_session";

/// The header a session's `POST`s carry.
pub(crate) const CSRF_HEADER: &str = "x-ward-csrf";

/// How long a session lasts from its login.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The most sessions at once; a login past it ends the oldest.
const MAX_SESSIONS: usize = 256;

/// One browser's session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// What its token allowed.
    pub access: Access,
    /// What its `POST`s must send in [`CSRF_HEADER`].
    pub csrf: String,
    began: Instant,
}

/// Every live session, by id.
#[derive(Default)]
pub(crate) struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for `access`: its id (for the cookie) and the session.
    pub fn begin(&self, access: Access) -> std::io::Result<(String, Session)> {
        let id = ward_sys::token::random_hex(32)?;
        let session = Session {
            access,
            csrf: ward_sys::token::random_hex(32)?,
            began: Instant::now(),
        };
        let mut all = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|_, s| s.began.elapsed() < LIFETIME);
        if all.len() >= MAX_SESSIONS
            && let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.began)
                .map(|(id, _)| id.clone())
        {
            all.remove(&oldest);
        }
        all.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session of this id.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut all = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        match all.get(id) {
            Some(s) if s.began.elapsed() < LIFETIME => Some(s.clone()),
            Some(_) => {
                all.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends the session of this id.
    pub fn end(&self, id: &str) {
        let mut all = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(id);
    }
}

/// The session id in a `Cookie` header, if it carries ours.
pub(crate) fn cookie_id(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value that gives a browser session `id`.
pub(crate) fn set_cookie(id: &str) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        LIFETIME.as_secs()
    )
}

/// The `Set-Cookie` value that takes it back.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_ends() {
        let sessions = Sessions::default();
        let (id, s) = sessions.begin(Access::Read).unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(s.csrf, id);
        let header = format!(
            "theme=dark; {}; other=1",
            set_cookie(&id).split(';').next().unwrap()
        );
        assert_eq!(cookie_id(&header), Some(id.as_str()));
        let found = sessions.get(cookie_id(&header).unwrap()).unwrap();
        assert_eq!((found.access, found.csrf), (Access::Read, s.csrf));
        assert!(sessions.get("0000").is_none());
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
        assert_eq!(cookie_id("ward_session=; x=1"), None);
        assert_eq!(cookie_id("not_ward_session=abc"), None);
        assert!(set_cookie("x").contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn past_the_limit_the_oldest_session_ends() {
        let sessions = Sessions::default();
        let (first, _) = sessions.begin(Access::Full).unwrap();
        for _ in 0..MAX_SESSIONS {
            sessions.begin(Access::Full).unwrap();
        }
        assert!(sessions.get(&first).is_none());
    }
}
