//! The lines of several units' logs as one: filtered by time, stream and text, merged in
//! the order of their timestamps. Plain functions on bytes, so that they are tested
//! without files.

/// Which lines `ward logs` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Lines stamped at or after this (a formatted timestamp, which sorts as text).
    pub since: Option<String>,
    /// Lines stamped at or before this.
    pub until: Option<String>,
    /// Lines that hold this text.
    pub grep: Option<String>,
    /// Only what the services wrote on stderr.
    pub stderr_only: bool,
}

impl Filter {
    /// Whether any filter is set: then whole files are read, not only their tails.
    pub fn any(&self) -> bool {
        self.since.is_some() || self.until.is_some() || self.grep.is_some() || self.stderr_only
    }

    /// Whether `line` (`<timestamp> out|err|ward <text>`) is shown.
    pub fn keeps(&self, line: &[u8]) -> bool {
        let stamp = stamp(line);
        if let Some(since) = &self.since
            && stamp < since.as_bytes()
        {
            return false;
        }
        if let Some(until) = &self.until
            && stamp > until.as_bytes()
        {
            return false;
        }
        if self.stderr_only
            && line.get(ward_api::timestamp::LEN..ward_api::timestamp::LEN + 5) != Some(b" err ")
        {
            return false;
        }
        if let Some(text) = &self.grep
            && memchr::memmem::find(line, text.as_bytes()).is_none()
        {
            return false;
        }
        true
    }
}

/// The timestamp a line starts with (the whole line when it is shorter).
fn stamp(line: &[u8]) -> &[u8] {
    &line[..line.len().min(ward_api::timestamp::LEN)]
}

/// The lines of each unit (`per_unit[i]` holds unit `i`'s, each ending in `\n`), merged by
/// their timestamps; lines of one unit keep their order, and equal stamps keep the units'
/// order. Returns (unit, line) pairs.
pub fn merge<'a>(per_unit: &[Vec<&'a [u8]>]) -> Vec<(usize, &'a [u8])> {
    let mut all: Vec<(usize, usize, &'a [u8])> = per_unit
        .iter()
        .enumerate()
        .flat_map(|(u, lines)| lines.iter().enumerate().map(move |(i, l)| (u, i, *l)))
        .collect();
    all.sort_by(|a, b| {
        stamp(a.2)
            .cmp(stamp(b.2))
            .then(a.0.cmp(&b.0))
            .then(a.1.cmp(&b.1))
    });
    all.into_iter().map(|(u, _, l)| (u, l)).collect()
}

/// The whole lines of `bytes` (a last line without its newline is left out).
pub fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &[u8] = b"2026-12-03T10:00:00.000Z out one\n2026-12-03T10:00:02.000Z err two\n";
    const B: &[u8] = b"2026-12-03T10:00:01.000Z out uno\n2026-12-03T10:00:02.000Z ward dos\n";

    #[test]
    fn lines_of_several_units_merge_by_time() {
        let merged = merge(&[lines(A), lines(B)]);
        let order: Vec<(usize, &str)> = merged
            .iter()
            .map(|(u, l)| (*u, std::str::from_utf8(&l[29..]).unwrap().trim()))
            .collect();
        assert_eq!(order, [(0, "one"), (1, "uno"), (0, "two"), (1, "dos")]);
        assert_eq!(lines(b"a\nb"), [b"a\n".as_slice()]);
    }

    #[test]
    fn filters_by_time_stream_and_text() {
        let f = Filter {
            since: Some("2026-12-03T10:00:01.000Z".into()),
            until: Some("2026-12-03T10:00:01.500Z".into()),
            ..Filter::default()
        };
        let kept: Vec<&[u8]> = lines(B).into_iter().filter(|l| f.keeps(l)).collect();
        assert_eq!(kept, [lines(B)[0]]);
        let f = Filter {
            stderr_only: true,
            ..Filter::default()
        };
        assert_eq!(lines(A).into_iter().filter(|l| f.keeps(l)).count(), 1);
        let f = Filter {
            grep: Some("uno".into()),
            ..Filter::default()
        };
        assert!(f.keeps(lines(B)[0]) && !f.keeps(lines(B)[1]));
        assert!(!Filter::default().any() && f.any());
    }
}
