//! What a rejected `ward.toml` reports: every problem found, each with its place in the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a config file, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file, as it was given to [`parse`](super::parse).
    pub file: PathBuf,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// 1-based column, counted in characters, of the offending key or value.
    pub column: usize,
    /// What is wrong, in lowercase, naming the key.
    pub message: String,
    /// How to fix it, when there is something better to say than the message.
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a config file, in file order; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The problems, sorted by their position in the file.
    pub errors: Vec<ConfigError>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A problem at a byte offset, before it is turned into a line and column.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    /// Byte offset into the config text.
    pub at: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Collects problems while the config is walked, then sorts and places them.
#[derive(Default)]
pub(crate) struct Report {
    problems: Vec<Problem>,
}

impl Report {
    /// Records a problem at byte offset `at`.
    pub fn error(&mut self, at: usize, message: impl Into<String>, hint: Option<String>) {
        self.problems.push(Problem {
            at,
            message: message.into(),
            hint,
        });
    }

    /// Whether nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// Turns the recorded problems into [`ConfigErrors`], in file order.
    pub fn into_errors(mut self, file: &Path, text: &str) -> ConfigErrors {
        // Stable: problems at the same place keep the order they were found in.
        self.problems.sort_by_key(|p| p.at);
        let lines = LineIndex::new(text);
        let errors = self
            .problems
            .into_iter()
            .map(|p| {
                let (line, column) = lines.locate(p.at);
                ConfigError {
                    file: file.to_path_buf(),
                    line,
                    column,
                    message: p.message,
                    hint: p.hint,
                }
            })
            .collect();
        ConfigErrors { errors }
    }
}

/// Maps byte offsets to 1-based (line, column), columns counted in characters.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    pub(crate) fn locate(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // `starts[0] == 0 <= offset`, so the line index is at least 0.
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        (line + 1, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_offsets() {
        let idx = LineIndex::new("ab\ncdé f\n\nx");
        assert_eq!(idx.locate(0), (1, 1));
        assert_eq!(idx.locate(2), (1, 3));
        assert_eq!(idx.locate(3), (2, 1));
        // `é` is two bytes but one column.
        assert_eq!(idx.locate(7), (2, 4));
        assert_eq!(idx.locate(10), (3, 1));
        assert_eq!(idx.locate(11), (4, 1));
        assert_eq!(idx.locate(999), (4, 2));
    }

    #[test]
    fn display_with_and_without_hint() {
        let mut e = ConfigError {
            file: PathBuf::from("ward.toml"),
            line: 3,
            column: 5,
            message: "unknown key `comand` in [services.web]".into(),
            hint: None,
        };
        assert_eq!(
            e.to_string(),
            "ward.toml:3:5: unknown key `comand` in [services.web]"
        );
        e.hint = Some("did you mean `command`?".into());
        let all = ConfigErrors {
            errors: vec![e.clone(), e],
        };
        assert_eq!(
            all.to_string(),
            "ward.toml:3:5: unknown key `comand` in [services.web]\n  hint: did you mean `command`?\n\
             ward.toml:3:5: unknown key `comand` in [services.web]\n  hint: did you mean `command`?"
        );
    }
}
