//! What a kernel's `uname` release says of its version, for behaviour that changed at a
//! known release.

/// Whether a release such as `6.18.44-fc` is at least `major.minor`; `None` when its
/// first two numbers cannot be read, for the caller to decide what an unknown kernel is.
pub fn at_least(release: &str, (major, minor): (u32, u32)) -> Option<bool> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => Some((a, b) >= (major, minor)),
        _ => None,
    }
}

/// The running kernel's release.
pub fn running() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_compare_by_major_then_minor() {
        assert_eq!(at_least("6.18.44-fc-v1098", (6, 15)), Some(true));
        assert_eq!(at_least("6.15.0", (6, 15)), Some(true));
        assert_eq!(at_least("7.0", (6, 15)), Some(true));
        assert_eq!(at_least("6.14.11-300.fc41.x86_64", (6, 15)), Some(false));
        assert_eq!(at_least("5.19.0", (6, 15)), Some(false));
        assert_eq!(at_least("weird", (6, 15)), None);
        // The CPU hold's floor (`cpu_pin`).
        assert_eq!(at_least("6.6.0", (6, 6)), Some(true));
        assert_eq!(at_least("6.5.13", (6, 6)), Some(false));
        assert_eq!(at_least("6.1.0-28-amd64", (6, 6)), Some(false));
    }
}
