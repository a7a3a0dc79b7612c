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

/// One step on the way to a program: the file itself, then each directory above it up to
/// `/`, as the kernel finds them (symbolic links followed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathStep {
    /// The file or directory.
    pub path: std::path::PathBuf,
    /// Its mode, type bits included.
    pub mode: u32,
}

/// Why a program is not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramProblem {
    /// It is not a regular file.
    NotAFile,
    /// No execute bit is set.
    NotExecutable {
        /// Its permission bits.
        mode: u32,
    },
    /// Someone other than its owner and root may write to it, or to a directory above it.
    Writable {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

impl std::fmt::Display for ProgramProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgramProblem::NotAFile => f.write_str("it is not a regular file"),
            ProgramProblem::NotExecutable { mode } => {
                write!(f, "it has no execute bit (mode {:04o})", mode & 0o7777)
            }
            ProgramProblem::Writable { path, mode } => write!(
                f,
                "{} may be written by users other than its owner and root (mode {:04o}), so \
                 they could replace what ward runs",
                path.display(),
                mode & 0o7777
            ),
        }
    }
}

/// Judges the way to a program, the rule sudo and OpenSSH apply: a regular file with an
/// execute bit, and neither it nor any directory above it writable by group or others
/// (a directory with the sticky bit, as `/tmp`, keeps others from replacing what is in
/// it). `steps` starts with the program.
pub fn judge_program(steps: &[PathStep]) -> Result<(), ProgramProblem> {
    const TYPE: u32 = 0o170000;
    const REGULAR: u32 = 0o100000;
    const DIR: u32 = 0o040000;
    // Who could replace it comes first: a file that is not executable yet could be made
    // so by whoever may write there.
    for step in steps {
        let sticky_dir = step.mode & TYPE == DIR && step.mode & 0o1000 != 0;
        if step.mode & 0o022 != 0 && !sticky_dir {
            return Err(ProgramProblem::Writable {
                path: step.path.clone(),
                mode: step.mode,
            });
        }
    }
    let Some(program) = steps.first() else {
        return Err(ProgramProblem::NotAFile);
    };
    if program.mode & TYPE != REGULAR {
        return Err(ProgramProblem::NotAFile);
    }
    if program.mode & 0o111 == 0 {
        return Err(ProgramProblem::NotExecutable { mode: program.mode });
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

    fn step(path: &str, mode: u32) -> PathStep {
        PathStep {
            path: path.into(),
            mode,
        }
    }

    #[test]
    fn a_program_others_could_replace_is_refused() {
        let file = 0o100000;
        let dir = 0o040000;
        let good = [
            step("/usr/bin/app", file | 0o755),
            step("/usr/bin", dir | 0o755),
            step("/usr", dir | 0o755),
            step("/", dir | 0o755),
        ];
        assert_eq!(judge_program(&good), Ok(()));
        let mut open_file = good.clone();
        open_file[0].mode = file | 0o777;
        assert_eq!(
            judge_program(&open_file),
            Err(ProgramProblem::Writable {
                path: "/usr/bin/app".into(),
                mode: file | 0o777
            })
        );
        let mut open_dir = good.clone();
        open_dir[2].mode = dir | 0o775;
        assert!(matches!(
            judge_program(&open_dir),
            Err(ProgramProblem::Writable { path, .. }) if path == std::path::Path::new("/usr")
        ));
        // /tmp's sticky bit keeps others from replacing a file they do not own.
        let mut sticky = good.clone();
        sticky[1] = step("/tmp", dir | 0o1777);
        assert_eq!(judge_program(&sticky), Ok(()));
        let mut plain = good.clone();
        plain[0].mode = file | 0o644;
        assert_eq!(
            judge_program(&plain),
            Err(ProgramProblem::NotExecutable { mode: file | 0o644 })
        );
        let mut not_file = good.clone();
        not_file[0].mode = dir | 0o755;
        // Writable and not executable: who could replace it is named first.
        let mut both = good.clone();
        both[0].mode = file | 0o666;
        assert!(matches!(
            judge_program(&both),
            Err(ProgramProblem::Writable { .. })
        ));
        assert_eq!(judge_program(&not_file), Err(ProgramProblem::NotAFile));
        assert_eq!(
            judge_program(&open_file).unwrap_err().to_string(),
            "/usr/bin/app may be written by users other than its owner and root (mode 0777), so \
             they could replace what ward runs"
        );
    }
}
