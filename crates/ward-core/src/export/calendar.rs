//! A cron expression as systemd's `OnCalendar=`, for `ward export systemd`'s timers. The
//! common forms carry over (numbers, lists, ranges, `*/N` steps, names, `@daily` and the
//! like); what `OnCalendar=` cannot say (`L`, `W`, `#`, a step over a range, a day of the
//! month and a day of the week both restricted, which cron joins with OR and systemd with
//! AND) is refused with the reason.

/// `OnCalendar=` for `cron`, or why it has none.
pub fn on_calendar(cron: &str, timezone: Option<&str>) -> Result<String, String> {
    let text = cron.trim();
    let fields: Vec<&str> = match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => vec!["0", "0", "0", "1", "1", "*"],
        "@monthly" => vec!["0", "0", "0", "1", "*", "*"],
        "@weekly" => vec!["0", "0", "0", "*", "*", "0"],
        "@daily" | "@midnight" => vec!["0", "0", "0", "*", "*", "*"],
        "@hourly" => vec!["0", "0", "*", "*", "*", "*"],
        _ => {
            let parts: Vec<&str> = text.split_whitespace().collect();
            match parts.len() {
                5 => std::iter::once("0").chain(parts).collect(),
                6 => parts,
                _ => return Err(format!("`{text}` is not five or six fields")),
            }
        }
    };
    let (sec, min, hour, dom, mon, dow) = (
        fields[0], fields[1], fields[2], fields[3], fields[4], fields[5],
    );
    let restricted = |f: &str| f != "*" && f != "?";
    if restricted(dom) && restricted(dow) {
        return Err(
            "both a day of the month and a day of the week: cron runs on either, \
             OnCalendar= only on days that are both"
                .into(),
        );
    }
    let weekday = if restricted(dow) {
        format!("{} ", weekdays(dow)?)
    } else {
        String::new()
    };
    let mut out = format!(
        "{weekday}*-{}-{} {}:{}:{}",
        field(mon, 1, Some(MONTHS))?,
        field(dom, 1, None)?,
        field(hour, 0, None)?,
        field(min, 0, None)?,
        field(sec, 0, None)?
    );
    if let Some(tz) = timezone {
        out.push(' ');
        out.push_str(tz);
    }
    Ok(out)
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// One numeric field: `*`, `N`, `A-B`, `*/S` (from `first`), `N/S`, lists of those.
fn field(text: &str, first: u32, names: Option<&[&str]>) -> Result<String, String> {
    if text == "*" || text == "?" {
        return Ok("*".into());
    }
    let value = |v: &str| -> Result<String, String> {
        if let Some(names) = names
            && let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v))
        {
            return Ok((i as u32 + 1).to_string());
        }
        v.parse::<u32>()
            .map(|n| n.to_string())
            .map_err(|_| format!("`{v}` has no OnCalendar= equivalent"))
    };
    let mut parts = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(value(s)?)),
            None => (part, None),
        };
        let base = match (range, range.split_once('-')) {
            ("*", _) => first.to_string(),
            (_, Some((a, b))) if step.is_none() => format!("{}..{}", value(a)?, value(b)?),
            (_, Some(_)) => return Err(format!("`{part}`: a step over a range")),
            (v, None) => value(v)?,
        };
        parts.push(match step {
            Some(s) => format!("{base}/{s}"),
            None => base,
        });
    }
    Ok(parts.join(","))
}

/// The day-of-week field as names: `1-5` → `Mon..Fri`, `0,6` → `Sun,Sat`.
fn weekdays(text: &str) -> Result<String, String> {
    let day = |v: &str| -> Result<&'static str, String> {
        if let Some(i) = DAYS.iter().position(|d| d.eq_ignore_ascii_case(v)) {
            return Ok(DAYS[i]);
        }
        match v.parse::<usize>() {
            Ok(n @ 0..=6) => Ok(DAYS[n]),
            Ok(7) => Ok("Sun"),
            _ => Err(format!("`{v}` has no OnCalendar= equivalent")),
        }
    };
    let mut parts = Vec::new();
    for part in text.split(',') {
        if part.contains('/') || part.contains('#') || part.contains('L') {
            return Err(format!("`{part}` has no OnCalendar= equivalent"));
        }
        parts.push(match part.split_once('-') {
            Some((a, b)) => format!("{}..{}", day(a)?, day(b)?),
            None => day(part)?.to_string(),
        });
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_forms_carry_over() {
        assert_eq!(on_calendar("0 3 * * *", None).unwrap(), "*-*-* 3:0:0");
        assert_eq!(
            on_calendar("*/15 9-17 * * MON-FRI", Some("Europe/Berlin")).unwrap(),
            "Mon..Fri *-*-* 9..17:0/15:0 Europe/Berlin"
        );
        assert_eq!(
            on_calendar("30 */10 * * * *", None).unwrap(),
            "*-*-* *:*/10:30".replace("*/10", "0/10")
        );
        assert_eq!(on_calendar("@weekly", None).unwrap(), "Sun *-*-* 0:0:0");
        assert_eq!(on_calendar("@daily", None).unwrap(), "*-*-* 0:0:0");
        assert_eq!(
            on_calendar("0 0 1 jan,jul *", None).unwrap(),
            "*-1,7-1 0:0:0"
        );
        assert_eq!(
            on_calendar("0 0 * * 0,7", None).unwrap(),
            "Sun,Sun *-*-* 0:0:0"
        );
    }

    #[test]
    fn what_does_not_carry_over_is_refused_with_the_reason() {
        assert!(on_calendar("0 0 L * *", None).unwrap_err().contains("`L`"));
        assert!(on_calendar("0 0 * * 5#2", None).is_err());
        assert!(
            on_calendar("0 0 1-10/2 * *", None)
                .unwrap_err()
                .contains("step over a range")
        );
        assert!(
            on_calendar("0 0 13 * FRI", None)
                .unwrap_err()
                .contains("both")
        );
        assert!(on_calendar("x", None).is_err());
    }
}
