//! Plain-text tables for people: columns padded to their widest cell.

/// Formats rows (the first is the header) with two spaces between columns; the last column
/// is not padded, so lines carry no trailing blanks. Every cell is escaped for a terminal
/// first ([`ward_api::escape::line`]): a cell may hold what a service said, and is
/// measured as it is shown.
pub fn render(rows: &[Vec<String>]) -> String {
    // Each cell escaped once, borrowed when it needs no escape, and measured once: a
    // status of thousands of units is tens of thousands of cells.
    let cells: Vec<Vec<(std::borrow::Cow<'_, str>, usize)>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    let shown = ward_api::escape::line(c);
                    let width = shown.chars().count();
                    (shown, width)
                })
                .collect()
        })
        .collect();
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in &cells {
        for (c, (_, w)) in row.iter().enumerate() {
            widths[c] = widths[c].max(*w);
        }
    }
    let line_width: usize = widths.iter().map(|w| w + 2).sum();
    let mut out = String::with_capacity(cells.len() * (line_width + 1));
    for row in &cells {
        let start = out.len();
        for (c, (cell, w)) in row.iter().enumerate() {
            out.push_str(cell);
            if c + 1 < row.len() {
                out.extend(std::iter::repeat_n(' ', widths[c] - w + 2));
            }
        }
        // No trailing blanks: the padding of empty cells at the end of a line goes.
        let kept = out[start..].trim_end().len();
        out.truncate(start + kept);
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
