//! Who may ask the daemon what: ward's own user and root anything; members of
//! `api_group` anything; members of `api_readers` the status alone; everyone else nothing.
//! The daemon learns the peer's uid and groups from the kernel (`SO_PEERCRED`, `/proc`)
//! and asks here.

/// What a peer may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Every request.
    Full,
    /// `GET /v1/status` and `GET /metrics` (and the journal sync that reads wait for),
    /// nothing that acts.
    Read,
    /// Nothing: the connection is closed, and the refusal recorded.
    Refused(String),
}

/// The groups the config opens the socket to, by id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Groups {
    /// `api_group`.
    pub ops: Option<u32>,
    /// `api_readers`.
    pub readers: Option<u32>,
}

/// Decides for a peer of uid `uid` in `groups`, the daemon running as `me`.
pub fn decide(uid: u32, groups: &[u32], me: u32, open_to: Groups) -> Access {
    if uid == me || uid == 0 {
        return Access::Full;
    }
    let member = |g: Option<u32>| g.is_some_and(|g| groups.contains(&g));
    if member(open_to.ops) {
        Access::Full
    } else if member(open_to.readers) {
        Access::Read
    } else if open_to.ops.is_none() && open_to.readers.is_none() {
        Access::Refused(format!("uid {uid} is neither ward's user nor root"))
    } else {
        Access::Refused(format!(
            "uid {uid} is neither ward's user nor root, nor in api_group or api_readers"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_gets_what_its_groups_allow() {
        let open = Groups {
            ops: Some(100),
            readers: Some(4),
        };
        assert_eq!(decide(0, &[], 0, open), Access::Full);
        assert_eq!(decide(1000, &[], 1000, Groups::default()), Access::Full);
        assert_eq!(decide(65534, &[100], 0, open), Access::Full);
        assert_eq!(decide(65534, &[4, 7], 0, open), Access::Read);
        // In both: the wider wins.
        assert_eq!(decide(65534, &[4, 100], 0, open), Access::Full);
        assert!(
            matches!(decide(65534, &[7], 0, open), Access::Refused(w) if w.contains("api_group"))
        );
        assert!(matches!(
            decide(65534, &[100], 0, Groups::default()),
            Access::Refused(_)
        ));
    }
}
