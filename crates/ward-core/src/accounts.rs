//! Who a service runs as: its `user`, `group` and `groups`, turned into the ids the spawn
//! sets, by the rules `initgroups(3)` and systemd's `User=` follow. The user database is
//! read through [`Accounts`], which the daemon implements with the C library (so NSS
//! sources count) and tests implement with a table.

use crate::config::RunAs;

/// One entry of the user database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEntry {
    /// The login name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary group.
    pub gid: u32,
    /// Its home directory.
    pub home: String,
}

/// The user database, as much of it as the rules need.
pub trait Accounts {
    /// The user named `name`.
    fn user_named(&self, name: &str) -> Result<Option<UserEntry>, String>;
    /// The user with uid `uid`.
    fn user_with_uid(&self, uid: u32) -> Result<Option<UserEntry>, String>;
    /// The id of the group named `name`.
    fn group_named(&self, name: &str) -> Result<Option<u32>, String>;
    /// The groups `user` is a member of, with `gid` among them (`getgrouplist`).
    fn groups_of(&self, user: &str, gid: u32) -> Result<Vec<u32>, String>;
}

/// The ids a process is given before exec, and what its environment says of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The uid to switch to; `None` keeps ward's.
    pub uid: Option<u32>,
    /// The gid to switch to; `None` keeps ward's.
    pub gid: Option<u32>,
    /// The supplementary groups, set whenever `uid` or `gid` is.
    pub groups: Vec<u32>,
    /// The user's entry, for `USER`, `LOGNAME` and `HOME`.
    pub user: Option<UserEntry>,
}

/// The ids of `run_as`; `None` when it names nothing (the process runs as ward does).
/// Errors say which key names what is missing, and what to do.
pub fn resolve(run_as: &RunAs, db: &dyn Accounts) -> Result<Option<Credentials>, String> {
    if run_as.user.is_none() && run_as.group.is_none() && run_as.groups.is_none() {
        return Ok(None);
    }
    let entry = match &run_as.user {
        None => None,
        Some(user) => match user.parse::<u32>() {
            Ok(uid) => Some(db.user_with_uid(uid)?.ok_or(uid)),
            Err(_) => match db.user_named(user)? {
                Some(e) => Some(Ok(e)),
                None => {
                    return Err(format!(
                        "user: there is no user named `{user}` on this system\n  hint: create \
                         it (`useradd --system {user}`), or name an existing user or a uid"
                    ));
                }
            },
        },
    };
    let uid = entry.as_ref().map(|e| match e {
        Ok(e) => e.uid,
        Err(uid) => *uid,
    });
    let known = entry.and_then(Result::ok);
    let gid = match (&run_as.group, &known, uid) {
        (Some(group), _, _) => Some(group_id(db, "group", group)?),
        (None, Some(e), _) => Some(e.gid),
        (None, None, Some(uid)) => {
            return Err(format!(
                "user: uid {uid} has no entry in the user database, so it has no primary \
                 group\n  hint: set `group` too"
            ));
        }
        (None, None, None) => None,
    };
    let groups = match (&run_as.groups, &known, gid) {
        (Some(names), _, _) => {
            let mut ids = Vec::with_capacity(names.len());
            for name in names {
                ids.push(group_id(db, "groups", name)?);
            }
            ids
        }
        // initgroups: every group the user is a member of, with the primary one.
        (None, Some(e), Some(gid)) => db.groups_of(&e.name, gid)?,
        (None, _, Some(gid)) => vec![gid],
        (None, _, None) => Vec::new(),
    };
    Ok(Some(Credentials {
        uid,
        gid,
        groups,
        user: known,
    }))
}

fn group_id(db: &dyn Accounts, key: &str, group: &str) -> Result<u32, String> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    db.group_named(group)?.ok_or_else(|| {
        format!(
            "{key}: there is no group named `{group}` on this system\n  hint: create it \
             (`groupadd --system {group}`), or name an existing group or a gid"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Table;

    fn www() -> UserEntry {
        UserEntry {
            name: "www".into(),
            uid: 33,
            gid: 33,
            home: "/var/www".into(),
        }
    }

    impl Accounts for Table {
        fn user_named(&self, name: &str) -> Result<Option<UserEntry>, String> {
            Ok((name == "www").then(www))
        }
        fn user_with_uid(&self, uid: u32) -> Result<Option<UserEntry>, String> {
            Ok((uid == 33).then(www))
        }
        fn group_named(&self, name: &str) -> Result<Option<u32>, String> {
            Ok(match name {
                "www" => Some(33),
                "adm" => Some(4),
                _ => None,
            })
        }
        fn groups_of(&self, user: &str, gid: u32) -> Result<Vec<u32>, String> {
            assert_eq!(user, "www");
            Ok(vec![gid, 4])
        }
    }

    fn run_as(user: Option<&str>, group: Option<&str>, groups: Option<&[&str]>) -> RunAs {
        RunAs {
            user: user.map(str::to_string),
            group: group.map(str::to_string),
            groups: groups.map(|g| g.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn a_user_brings_its_primary_group_and_memberships() {
        let c = resolve(&run_as(Some("www"), None, None), &Table)
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.uid, c.gid, c.groups.clone()),
            (Some(33), Some(33), vec![33, 4])
        );
        assert_eq!(c.user, Some(www()));
        // By number, the same user.
        let by_uid = resolve(&run_as(Some("33"), None, None), &Table).unwrap();
        assert_eq!(by_uid, Some(c));
    }

    #[test]
    fn group_and_groups_replace_what_the_user_brings() {
        let c = resolve(&run_as(Some("www"), Some("adm"), Some(&[])), &Table)
            .unwrap()
            .unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (Some(33), Some(4), vec![]));
        let c = resolve(&run_as(None, Some("www"), None), &Table)
            .unwrap()
            .unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (None, Some(33), vec![33]));
    }

    #[test]
    fn nothing_named_changes_nothing() {
        assert_eq!(resolve(&RunAs::default(), &Table), Ok(None));
    }

    #[test]
    fn what_is_missing_is_named_with_its_key() {
        let e = resolve(&run_as(Some("nosuch"), None, None), &Table).unwrap_err();
        assert!(
            e.starts_with("user: there is no user named `nosuch`"),
            "{e}"
        );
        let e = resolve(&run_as(Some("www"), Some("nosuch"), None), &Table).unwrap_err();
        assert!(
            e.starts_with("group: there is no group named `nosuch`"),
            "{e}"
        );
        let e = resolve(&run_as(Some("www"), None, Some(&["adm", "x"])), &Table).unwrap_err();
        assert!(e.starts_with("groups: there is no group named `x`"), "{e}");
        // A bare uid needs a group of its own.
        let e = resolve(&run_as(Some("4321"), None, None), &Table).unwrap_err();
        assert!(e.contains("uid 4321 has no entry"), "{e}");
        let c = resolve(&run_as(Some("4321"), Some("4321"), None), &Table)
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.uid, c.gid, c.groups),
            (Some(4321), Some(4321), vec![4321])
        );
    }
}
