//! Byte sizes as humans write them: `4096`, `512KB`, `10MiB`, `1G`.

/// Parses a whole number with an optional unit, case-insensitive, spaces allowed between.
///
/// `K`/`KB`/`KiB`, `M`/`MB`/`MiB` and `G`/`GB`/`GiB` are all powers of 1024: a log limit
/// is not the place to be surprised by the difference. `B` or no unit means bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let s = text.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return None;
    }
    let number: u64 = s[..digits].parse().ok()?;
    let multiplier: u64 = match s[digits..].trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

/// A size as a person reads it, in the largest power of 1024 that keeps it at least 1:
/// `512 B`, `980.0 KiB`, `12.3 MiB`, `1.2 GiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(format_size(512), "512 B");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(100 << 20), "100.0 MiB");
        assert_eq!(format_size(3 << 30), "3.0 GiB");
    }

    #[test]
    fn units() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("100B"), Some(100));
        assert_eq!(parse_size("512KB"), Some(512 * 1024));
        assert_eq!(parse_size("512 k"), Some(512 * 1024));
        assert_eq!(parse_size("10MiB"), Some(10 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size(" 2gib "), Some(2 << 30));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "MiB",
            "1.5MiB",
            "-1K",
            "10XB",
            "10 M B",
            "99999999999999999999",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size("99999999999G"), None);
    }
}
