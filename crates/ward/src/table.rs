//! Plain-text tables for people: columns padded to their widest cell.

/// Formats rows (the first is the header) with two spaces between columns; the last column
/// is not padded, so lines carry no trailing blanks. Every cell is escaped for a terminal
/// first ([`ward_api::escape::line`]): a cell may hold what a service said, and is
/// measured as it is shown.
pub fn render(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| ward_api::escape::line(c).into_owned())
                .collect()
        })
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_all_but_the_last_column() {
        let rows = vec![
            vec!["NAME".to_string(), "STATE".into(), "NOTE".into()],
            vec!["web".into(), "running".into(), "".into()],
            vec!["worker.10".into(), "failed".into(), "start limit".into()],
        ];
        assert_eq!(
            render(&rows),
            "NAME       STATE    NOTE\nweb        running\nworker.10  failed   start limit\n"
        );
    }

    #[test]
    fn cells_are_escaped_and_measured_as_shown() {
        let rows = vec![
            vec!["NAME".to_string(), "NOTE".into()],
            vec!["a\u{1b}[2J".into(), "\"\u{7}\"".into()],
            vec!["b".into(), "x".into()],
        ];
        assert_eq!(
            render(&rows),
            "NAME    NOTE\na\\e[2J  \"\\x07\"\nb       x\n"
        );
    }
}
