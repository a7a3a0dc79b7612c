//! Reading the config file: from a regular file only, and at most
//! [`MAX_FILE_SIZE`] (16 MiB) of it.
//!
//! The path of `ward.toml` can name anything. Read naively, a FIFO blocks the read until
//! a writer comes, which for the daemon's one task means forever; `/dev/zero` or
//! `/dev/urandom` never end and take all memory. So:
//!
//! 1. the path is looked at first (`stat`, following symbolic links: a link to a regular
//!    file is a regular file), and anything else is refused without being opened, so a
//!    FIFO or a device is never opened in the ordinary case;
//! 2. the file is opened non-blocking (a FIFO swapped in after the look cannot block the
//!    open) and without becoming a controlling terminal;
//! 3. the opened descriptor is judged again (`fstat`): that is the verdict that counts,
//!    since it is the very file that will be read, whatever the path names by then;
//! 4. at most the limit and one byte more are read, so a file that grows, or one that
//!    reports no size (files of `/proc`), is still refused past the limit.
//!
//! A regular file's read does not wait for a writer; it can still wait for its file system
//! (a hung NFS or FUSE mount), which is why the daemon reads off its supervisor task.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, Stat};
pub use ward_core::config::MAX_FILE_SIZE;

/// Why the config file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be looked at, opened or read (missing, not allowed, I/O error).
    #[error("cannot read config {}: {source}", path.display())]
    Io {
        /// The config path.
        path: PathBuf,
        /// What the kernel said.
        #[source]
        source: io::Error,
    },
    /// A FIFO, a device, a socket, a directory.
    #[error(
        "{} is not a regular file ({kind}); ward reads its config only from a regular file",
        path.display()
    )]
    NotRegular {
        /// The config path.
        path: PathBuf,
        /// What it is, in words: `a FIFO`, `a character device`, ….
        kind: &'static str,
    },
    /// Over the limit.
    #[error(
        "{} is larger than {}{}; ward reads a config of at most {}: check that it is the config",
        path.display(),
        in_words(*limit),
        size.map(|s| format!(" ({s} bytes)")).unwrap_or_default(),
        in_words(*limit)
    )]
    TooLarge {
        /// The config path.
        path: PathBuf,
        /// Its size, when the file reports one.
        size: Option<u64>,
        /// The limit.
        limit: u64,
    },
    /// Not text.
    #[error(
        "{} is not UTF-8 text (at byte {at}); a TOML file must be UTF-8",
        path.display()
    )]
    NotUtf8 {
        /// The config path.
        path: PathBuf,
        /// Where the first byte that is not UTF-8 is.
        at: usize,
    },
}

impl ConfigFileError {
    /// What is wrong, without the path: for a file read like a config that is not one
    /// (an `env_file`), whose message names the path itself.
    pub fn reason(&self) -> String {
        match self {
            ConfigFileError::Io { source, .. } => source.to_string(),
            ConfigFileError::NotRegular { kind, .. } => {
                format!("it is not a regular file ({kind}); ward reads only regular files")
            }
            ConfigFileError::TooLarge { limit, .. } => {
                format!("it is larger than {}", in_words(*limit))
            }
            ConfigFileError::NotUtf8 { at, .. } => format!("it is not UTF-8 text (at byte {at})"),
        }
    }

    /// Whether the file is simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ConfigFileError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// The whole config file as text; see the module's documentation for what is refused.
pub fn read(path: &Path) -> Result<String, ConfigFileError> {
    read_at_most(path, MAX_FILE_SIZE)
}

fn read_at_most(path: &Path, limit: u64) -> Result<String, ConfigFileError> {
    let io = |source: io::Error| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    judge(
        path,
        &rustix::fs::stat(path).map_err(|e| io(e.into()))?,
        limit,
    )?;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| io(e.into()))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| io(e.into()))?;
    judge(path, &st, limit)?;
    let mut bytes = Vec::with_capacity(st.st_size.clamp(0, limit as i64) as usize);
    std::fs::File::from(fd)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ConfigFileError::TooLarge {
            path: path.to_path_buf(),
            size: None,
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| ConfigFileError::NotUtf8 {
        path: path.to_path_buf(),
        at: e.utf8_error().valid_up_to(),
    })
}

/// Refuses anything but a regular file of at most `limit` bytes.
fn judge(path: &Path, st: &Stat, limit: u64) -> Result<(), ConfigFileError> {
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => None,
        FileType::Fifo => Some("a FIFO"),
        FileType::CharacterDevice => Some("a character device"),
        FileType::BlockDevice => Some("a block device"),
        FileType::Socket => Some("a socket"),
        FileType::Directory => Some("a directory"),
        FileType::Symlink => Some("a symbolic link"),
        FileType::Unknown => Some("of an unknown type"),
    };
    if let Some(kind) = kind {
        return Err(ConfigFileError::NotRegular {
            path: path.to_path_buf(),
            kind,
        });
    }
    let size = st.st_size.max(0) as u64;
    if size > limit {
        return Err(ConfigFileError::TooLarge {
            path: path.to_path_buf(),
            size: Some(size),
            limit,
        });
    }
    Ok(())
}

/// `16 MiB` for a whole number of MiB, else bytes.
fn in_words(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ward.toml");
        std::fs::write(&path, "[services.a]\ncommand = \"true\"\n").unwrap();
        assert_eq!(read(&path).unwrap(), "[services.a]\ncommand = \"true\"\n");
        // Through a symbolic link too: what counts is what is read.
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(read(&link).is_ok());
        let e = read(&dir.path().join("missing.toml")).unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    #[test]
    fn a_fifo_a_device_and_a_directory_are_refused_without_a_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ward.toml");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // No writer ever comes: a read would block this test forever.
        let e = read(&fifo).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{} is not a regular file (a FIFO); ward reads its config only from a regular file",
                fifo.display()
            )
        );
        let e = read(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("(a character device)"), "{e}");
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("(a directory)"), "{e}");
    }

    #[test]
    fn past_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        // Sparse: no disk is used.
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_SIZE + 1)
            .unwrap();
        let e = read(&big).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{} is larger than 16 MiB (16777217 bytes); ward reads a config of at most 16 MiB: check that it is the config",
                big.display()
            )
        );
        // A file that reports no size (as those of /proc do) is cut off by the read.
        let e = read_at_most(Path::new("/proc/self/status"), 10).unwrap_err();
        assert!(
            matches!(e, ConfigFileError::TooLarge { size: None, .. }),
            "{e}"
        );
        let text = dir.path().join("bin.toml");
        std::fs::write(&text, b"a = 1\n\xff").unwrap();
        let e = read(&text).unwrap_err().to_string();
        assert!(e.ends_with("is not UTF-8 text (at byte 6); a TOML file must be UTF-8"));
    }
}
