//! Time zones for schedules, read from the system's time zone database
//! (`/usr/share/zoneinfo`, Debian's `tzdata`) by `jiff`, so that ward follows the rules
//! the system is updated with instead of a copy built into the binary.

use jiff::tz::TimeZone;

/// The zone named `name` (`Europe/Berlin`, `UTC`); `None`: the system's own zone (`TZ`,
/// else `/etc/localtime`, else UTC).
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        Some(name) => TimeZone::get(name).map_err(|e| e.to_string()),
        None => Ok(TimeZone::system()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_database_and_nonsense() {
        assert!(time_zone(Some("UTC")).is_ok());
        assert!(time_zone(Some("Nowhere/Atlantis")).is_err());
        assert!(time_zone(None).is_ok());
    }
}
