//! The bearer token of the HTTP listener: 32 random bytes from the kernel, as 64 hex
//! digits, in a file only ward's user may read.

use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Shortest token accepted from an existing file, in characters.
pub const MIN_LEN: usize = 32;

/// `n` random bytes from the kernel's generator, as hex.
pub fn random_hex(n: usize) -> io::Result<String> {
    let mut bytes = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token at `path`, made (mode 0600, never through a symbolic link) when there is
/// none. An existing one that others may read, or that is too short, is refused with the
/// reason.
pub fn load_or_create(path: &Path) -> io::Result<String> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(mut f) => {
            let token = random_hex(32)?;
            f.write_all(format!("{token}\n").as_bytes())?;
            f.sync_all()?;
            return Ok(token);
        }
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        Err(_) => {}
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    let refuse = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a regular file", path.display())));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(refuse(format!(
            "{} may be read by others (mode {:o}); `chmod 600` it, or remove it for a new one",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    let mut text = String::new();
    f.take(4096).read_to_string(&mut text)?;
    let token = text.trim().to_string();
    if token.len() < MIN_LEN {
        return Err(refuse(format!(
            "{} holds a token of {} characters; at least {MIN_LEN} are needed (remove it for a new one)",
            path.display(),
            token.len()
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http.token");
        let token = load_or_create(&path).unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), token);
        assert_ne!(random_hex(32).unwrap(), token);
        // Readable by others, or too short: refused.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            load_or_create(&path)
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        std::fs::write(&path, "short\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            load_or_create(&path)
                .unwrap_err()
                .to_string()
                .contains("at least 32")
        );
        // A link is never followed.
        let link = dir.path().join("link.token");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(load_or_create(&link).is_err());
    }
}
