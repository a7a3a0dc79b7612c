//! Values written in `ward.toml`'s own notation, for what ward writes as config text: the
//! files of `ward import` and the settings the dashboard shows (`describe`). (toml_edit
//! writes values only with its `display` feature, which ward does not build.)

use std::fmt::Write as _;

/// A TOML basic string: quotes, backslashes and control characters escaped.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An array of strings: `["a", "b"]`.
pub(crate) fn strings<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|i| string(i.as_ref())).collect();
    format!("[{}]", items.join(", "))
}
