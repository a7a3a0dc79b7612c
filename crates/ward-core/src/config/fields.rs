//! Typed reads of TOML items: each checks one key's value and reports at its position.

use super::errors::Report;
use super::suggest;
use crate::duration::parse_duration;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml_edit::{Item, Key, TableLike, Value};

/// What the walk over one file carries: its text, its directory and the problems so far.
pub(crate) struct Ctx<'t> {
    /// The whole file, for quoting values back in hints.
    pub text: &'t str,
    /// The config file's directory, against which relative paths resolve.
    pub base: PathBuf,
    /// Every problem found so far.
    pub report: Report,
    /// Where each line starts, made at the first `locate`: a file of thousands of
    /// services may ask for thousands of places.
    lines: std::cell::OnceCell<super::errors::LineIndex<'t>>,
}

/// Byte offset where an item starts (its `[header]` for a table).
pub(crate) fn item_at(item: &Item) -> usize {
    item.span().map_or(0, |s| s.start)
}

/// Byte offset where a key starts.
pub(crate) fn key_at(key: &Key) -> usize {
    key.span().map_or(0, |s| s.start)
}

/// "a string", "an integer", … for "found …" in messages.
pub(crate) fn kind(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "an integer",
        Item::Value(Value::Float(_)) => "a float",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date-time",
        Item::Value(Value::Array(_)) => "an array",
        Item::Value(Value::InlineTable(_)) | Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

/// A table's entries with their keys (which carry positions), in file order.
pub(crate) fn entries(table: &dyn TableLike) -> Vec<(&Key, &Item)> {
    table
        .iter()
        .filter_map(|(name, _)| table.get_key_value(name))
        .collect()
}

impl<'t> Ctx<'t> {
    /// A context for the file at `path` (used only to find its directory).
    pub fn new(path: &Path, text: &'t str) -> Self {
        let base = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ctx {
            text,
            base,
            report: Report::default(),
            lines: std::cell::OnceCell::new(),
        }
    }

    /// Records a problem at byte offset `at`.
    pub fn error(&mut self, at: usize, message: impl Into<String>, hint: Option<String>) {
        self.report.error(at, message, hint);
    }

    /// The 1-based line and column of byte offset `at`.
    pub fn locate(&self, at: usize) -> (usize, usize) {
        self.lines
            .get_or_init(|| super::errors::LineIndex::new(self.text))
            .locate(at)
    }

    /// The source text of an item, as written.
    pub fn source(&self, item: &Item) -> &'t str {
        self.source_of(item.span())
    }

    /// The source text at a span, or `""` when there is none.
    pub fn source_of(&self, span: Option<Range<usize>>) -> &'t str {
        span.and_then(|s| self.text.get(s)).unwrap_or_default()
    }

    /// Reports "`name` must be EXPECTED, found …" at the item.
    pub fn wrong_type(&mut self, name: &str, expected: &str, item: &Item, hint: Option<String>) {
        let message = format!("`{name}` must be {expected}, found {}", kind(item));
        self.error(item_at(item), message, hint);
    }

    /// Reports an unknown key, suggesting the closest known one.
    pub fn unknown_key(&mut self, key: &Key, place: &str, known: &[&str]) {
        let message = format!("unknown key `{}` {place}", key.get());
        let hint = match suggest::did_you_mean(key.get(), known.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("known keys here: {}", suggest::list(known)),
        };
        self.error(key_at(key), message, Some(hint));
    }

    /// A string without NUL characters (no argv, environment or path may hold one).
    pub fn string<'i>(&mut self, name: &str, item: &'i Item) -> Option<&'i str> {
        let Some(s) = item.as_str() else {
            self.wrong_type(name, "a string", item, None);
            return None;
        };
        if s.contains('\0') {
            self.error(
                item_at(item),
                format!("`{name}` must not contain a NUL character"),
                None,
            );
            return None;
        }
        Some(s)
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, name: &str, item: &Item) -> Option<bool> {
        let b = item.as_bool();
        if b.is_none() {
            self.wrong_type(name, "a boolean (true or false)", item, None);
        }
        b
    }

    /// An integer within `min..=max`.
    pub fn integer(&mut self, name: &str, item: &Item, min: i64, max: i64) -> Option<i64> {
        let Some(n) = item.as_integer() else {
            self.wrong_type(name, "an integer", item, None);
            return None;
        };
        if !(min..=max).contains(&n) {
            let message = format!("`{name}` must be between {min} and {max}, found {n}");
            self.error(item_at(item), message, None);
            return None;
        }
        Some(n)
    }

    /// A finite float or an integer, as `f64`.
    pub fn number(&mut self, name: &str, item: &Item) -> Option<f64> {
        let n = item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64));
        match n {
            Some(n) if n.is_finite() => Some(n),
            Some(_) => {
                let message = format!("`{name}` must be a finite number");
                self.error(item_at(item), message, None);
                None
            }
            None => {
                self.wrong_type(name, "a number", item, None);
                None
            }
        }
    }

    /// A duration string such as `"10s"`; a bare number is rejected with a hint.
    pub fn duration(&mut self, name: &str, item: &Item) -> Option<Duration> {
        if item.is_integer() || item.is_float() {
            let number = self.source(item).to_string();
            let hint = format!("write \"{number}s\", not {number}");
            self.wrong_type(name, "a duration string", item, Some(hint));
            return None;
        }
        let text = self.string(name, item)?;
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(_) => {
                let message = format!("invalid duration \"{text}\" for `{name}`");
                let hint = "write a number and a unit, such as \"500ms\", \"10s\", \"2m\" or \
                            \"1h30m\" (units: ms, s, m, h, d)";
                self.error(item_at(item), message, Some(hint.to_string()));
                None
            }
        }
    }

    /// A non-empty path, joined to the config file's directory when relative.
    pub fn path(&mut self, name: &str, item: &Item) -> Option<PathBuf> {
        let text = self.string(name, item)?;
        if text.is_empty() {
            self.error(item_at(item), format!("`{name}` must not be empty"), None);
            return None;
        }
        Some(self.base.join(text))
    }

    /// One of a fixed set of strings.
    pub fn choice<T: Copy>(
        &mut self,
        name: &str,
        item: &Item,
        options: &[(&'static str, T)],
    ) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|&(n, _)| n).collect();
        let Some(text) = item.as_str() else {
            let expected = format!("one of {}", suggest::list(&names));
            self.wrong_type(name, &expected, item, None);
            return None;
        };
        if let Some(&(_, value)) = options.iter().find(|&&(n, _)| n == text) {
            return Some(value);
        }
        let message = format!(
            "invalid value \"{text}\" for `{name}`: expected one of {}",
            suggest::list(&names)
        );
        let hint = suggest::did_you_mean(text, names.iter().copied())
            .map(|best| format!("did you mean `{best}`?"));
        self.error(item_at(item), message, hint);
        None
    }

    /// A byte size: an integer number of bytes, or a string with a unit (`"10MiB"`).
    pub fn size(&mut self, name: &str, item: &Item) -> Option<u64> {
        if let Some(n) = item.as_integer() {
            return match u64::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    let message = format!("`{name}` must not be negative, found {n}");
                    self.error(item_at(item), message, None);
                    None
                }
            };
        }
        let Some(text) = item.as_str() else {
            let hint = "write bytes as an integer, or a string such as \"10MiB\"".to_string();
            self.wrong_type(name, "a size", item, Some(hint));
            return None;
        };
        let bytes = super::size::parse_size(text);
        if bytes.is_none() {
            let message = format!("invalid size \"{text}\" for `{name}`");
            let hint = "write a number of bytes, or a number with a unit such as \"512KiB\", \
                        \"10MiB\" or \"1GiB\" (K, M and G all count in 1024s)";
            self.error(item_at(item), message, Some(hint.to_string()));
        }
        bytes
    }

    /// A table, written either as `[header]` or `{ inline }`.
    pub fn table<'i>(&mut self, name: &str, item: &'i Item) -> Option<&'i dyn TableLike> {
        let t = item.as_table_like();
        if t.is_none() {
            self.wrong_type(name, "a table", item, None);
        }
        t
    }
}
