//! UTC timestamps for log lines, `2026-11-26T10:32:40.123Z`.
//!
//! Every line of a unit's log file starts with one (`<timestamp> out|err|ward <text>`).
//! The daemon writes them and the CLI reads them back (`ward why` picks a run's stderr by
//! comparing stamps, which sort as strings because their width is fixed), so the format
//! lives here, in the contract both share.
//!
//! Hand-written (days-to-civil conversion) because it runs once per chunk of output on the
//! log hot path and must not allocate or consult time-zone data; a calendar crate would
//! bring both for a fixed-format UTC string.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of a formatted timestamp in bytes.
pub const LEN: usize = 24;

/// Formats `t` into `out` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format(t: SystemTime, out: &mut [u8; LEN]) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let ms = d.subsec_millis();
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    let put = |out: &mut [u8; LEN], at: usize, v: u64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(out, 0, y as u64, 4);
    out[4] = b'-';
    put(out, 5, m as u64, 2);
    out[7] = b'-';
    put(out, 8, day as u64, 2);
    out[10] = b'T';
    put(out, 11, sod / 3600, 2);
    out[13] = b':';
    put(out, 14, (sod % 3600) / 60, 2);
    out[16] = b':';
    put(out, 17, sod % 60, 2);
    out[19] = b'.';
    put(out, 20, ms as u64, 3);
    out[23] = b'Z';
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `t` formatted as a `String`, for tables and comparisons off the hot path.
pub fn string(t: SystemTime) -> String {
    let mut out = [0u8; LEN];
    format(t, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fmt(secs: u64, ms: u64) -> String {
        let mut b = [0u8; LEN];
        format(
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms),
            &mut b,
        );
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(fmt(1_795_689_160, 123), "2026-11-26T10:32:40.123Z");
    }

    #[test]
    fn string_is_the_formatted_bytes() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_689_160_123);
        assert_eq!(string(t), "2026-11-26T10:32:40.123Z");
        assert_eq!(string(t).len(), LEN);
    }
}
