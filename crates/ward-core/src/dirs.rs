//! Which existing directories ward may keep its files in. ward runs as root and keeps a
//! socket, a lock and logs there: a directory someone else could write to (or that another
//! user owns, and so can make writable) would let them swap those files. Ward never changes
//! the mode of a directory it did not create, so such a directory is refused instead. The
//! rule is OpenSSH's `StrictModes` and sudo's: the owner must be ward's own user or root,
//! and nobody else may write, unless the sticky bit keeps them from removing what is not
//! theirs.

/// Why an existing directory is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirProblem {
    /// Group or others may write to it, and it has no sticky bit.
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
    /// Another user owns it.
    OwnedByOther {
        /// Its owner.
        owner: u32,
    },
}

impl std::fmt::Display for DirProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirProblem::WritableByOthers { mode } => write!(
                f,
                "others may write to it (mode {:04o}, no sticky bit), so they could replace \
                 ward's files there",
                mode & 0o7777
            ),
            DirProblem::OwnedByOther { owner } => write!(
                f,
                "it belongs to uid {owner}, who could change it and replace ward's files there"
            ),
        }
    }
}

/// Judges a directory that exists already, of `mode` and `owner`, for a daemon running as
/// `me`.
pub fn judge(mode: u32, owner: u32, me: u32) -> Result<(), DirProblem> {
    if owner != me && owner != 0 {
        return Err(DirProblem::OwnedByOther { owner });
    }
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky {
        return Err(DirProblem::WritableByOthers { mode });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_read_only_directories_pass_writable_ones_do_not() {
        assert_eq!(judge(0o700, 0, 0), Ok(()));
        assert_eq!(judge(0o755, 0, 0), Ok(()));
        // Root's directories serve any user; a user's own directory serves them.
        assert_eq!(judge(0o755, 0, 1000), Ok(()));
        assert_eq!(judge(0o700, 1000, 1000), Ok(()));
        // /tmp: world-writable, but the sticky bit keeps others from ward's files.
        assert_eq!(judge(0o1777, 0, 0), Ok(()));
        assert_eq!(
            judge(0o777, 0, 0),
            Err(DirProblem::WritableByOthers { mode: 0o777 })
        );
        assert_eq!(
            judge(0o770, 0, 0),
            Err(DirProblem::WritableByOthers { mode: 0o770 })
        );
        assert_eq!(
            judge(0o700, 1000, 0),
            Err(DirProblem::OwnedByOther { owner: 1000 })
        );
        assert_eq!(
            judge(0o777, 0, 0).unwrap_err().to_string(),
            "others may write to it (mode 0777, no sticky bit), so they could replace ward's \
             files there"
        );
    }
}
