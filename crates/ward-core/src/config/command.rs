//! A service's `command` (an argv array, or a string split into words) and `shell`.

use super::fields::{Ctx, item_at};
use super::words::{WordsError, split};
use toml_edit::{Item, Value};

/// The argv that `shell = true` runs the command string with.
const SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Checks `command` given whether `shell = true`, and returns the argv to execute.
pub(crate) fn parse(ctx: &mut Ctx<'_>, item: &Item, shell: bool) -> Option<Vec<String>> {
    match item {
        Item::Value(Value::String(_)) => {
            let text = ctx.string("command", item)?;
            if text.trim().is_empty() {
                let hint = "write the program to run, such as \"/usr/bin/myapp --port 8080\"";
                ctx.error(item_at(item), "`command` is empty", Some(hint.to_string()));
                return None;
            }
            if shell {
                let mut argv: Vec<String> = SHELL.iter().map(|s| s.to_string()).collect();
                argv.push(text.to_string());
                return Some(argv);
            }
            match split(text) {
                Ok(words) => Some(words),
                Err(e) => {
                    words_error(ctx, item, text, e);
                    None
                }
            }
        }
        Item::Value(Value::Array(_)) if shell => {
            let hint = "write the whole command line as one string, or remove `shell = true` \
                        to run the array as it is";
            ctx.wrong_type(
                "command",
                "a string when `shell = true`",
                item,
                Some(hint.to_string()),
            );
            None
        }
        Item::Value(Value::Array(array)) => {
            if array.is_empty() {
                let hint =
                    "name the program to run, such as [\"/usr/bin/myapp\", \"--port\", \"8080\"]";
                ctx.error(
                    item_at(item),
                    "`command` must not be empty",
                    Some(hint.to_string()),
                );
                return None;
            }
            let mut argv = Vec::with_capacity(array.len());
            let mut ok = true;
            for (i, value) in array.iter().enumerate() {
                let at = value.span().map_or(item_at(item), |s| s.start);
                match value.as_str() {
                    Some("") if i == 0 => {
                        ctx.error(at, "the program in `command` must not be empty", None);
                        ok = false;
                    }
                    Some(s) if s.contains('\0') => {
                        ctx.error(at, "`command` must not contain a NUL character", None);
                        ok = false;
                    }
                    Some(s) => argv.push(s.to_string()),
                    None => {
                        let message = format!(
                            "`command` arguments must be strings, found {}",
                            value_kind(value)
                        );
                        let scalar = matches!(
                            value,
                            Value::Integer(_) | Value::Float(_) | Value::Boolean(_)
                        );
                        let hint = scalar
                            .then(|| format!("quote it: \"{}\"", ctx.source_of(value.span())));
                        ctx.error(at, message, hint);
                        ok = false;
                    }
                }
            }
            ok.then_some(argv)
        }
        _ => {
            let hint = "write command = [\"/usr/bin/myapp\", \"--flag\"] or \
                        command = \"/usr/bin/myapp --flag\"";
            ctx.wrong_type(
                "command",
                "an array of strings or a string",
                item,
                Some(hint.to_string()),
            );
            None
        }
    }
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

/// Reports a command string that cannot be split, at the character that is at fault.
fn words_error(ctx: &mut Ctx<'_>, item: &Item, text: &str, error: WordsError) {
    let (offset, message, hint) = match error {
        WordsError::UnterminatedSingle(o) => (
            o,
            "unterminated single quote in `command`".to_string(),
            "close the quote with another ', or escape it with a backslash to pass it as is"
                .to_string(),
        ),
        WordsError::UnterminatedDouble(o) => (
            o,
            "unterminated double quote in `command`".to_string(),
            "close the quote with another \", or escape it with a backslash to pass it as is"
                .to_string(),
        ),
        WordsError::TrailingBackslash(o) => (
            o,
            "`command` ends with a lone backslash".to_string(),
            "a backslash escapes the character after it; escape it with another backslash to \
             pass it as is"
                .to_string(),
        ),
        WordsError::NeedsShell(o, c) => (
            o,
            match c {
                '*' | '?' | '[' => {
                    format!("`command` uses `{c}`, which a shell would expand to file names")
                }
                '~' => {
                    format!("`command` uses `{c}`, which a shell would expand to a home directory")
                }
                _ => format!("`command` uses `{c}`, which only a shell understands"),
            },
            format!(
                "ward runs `command` without a shell: set `shell = true` to run it with \
                 /bin/sh -c, or quote the `{c}` to pass it as an argument"
            ),
        ),
    };
    let start = item_at(item);
    let at = map_offset(ctx.source(item), text, offset).map_or(start, |o| start + o);
    ctx.error(at, message, Some(hint));
}

/// Where the byte at `target` of the decoded string `decoded` sits within `raw`, the
/// string literal as written (quotes included). `None` for multi-line strings or anything
/// unexpected, in which case the caller points at the start of the string.
pub(crate) fn map_offset(raw: &str, decoded: &str, target: usize) -> Option<usize> {
    if raw.starts_with("'''") || raw.starts_with("\"\"\"") || raw.len() < 2 {
        return None;
    }
    let body = &raw[1..raw.len() - 1];
    if raw.starts_with('\'') {
        return (body == decoded && target <= body.len()).then_some(1 + target);
    }
    if !raw.starts_with('"') {
        return None;
    }
    let (mut r, mut d) = (0, 0);
    while d < target {
        let decoded_char = decoded.get(d..)?.chars().next()?;
        if body.as_bytes().get(r) == Some(&b'\\') {
            r += match body.as_bytes().get(r + 1)? {
                b'u' => 6,
                b'U' => 10,
                b'x' => 4,
                _ => 2,
            };
        } else {
            r += body.get(r..)?.chars().next()?.len_utf8();
        }
        d += decoded_char.len_utf8();
    }
    (d == target && r <= body.len()).then_some(1 + r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_through_escapes() {
        // raw: "a \"b" ; decoded: a "b ; the `"` is decoded byte 2, raw byte 3.
        assert_eq!(map_offset(r#""a \"b""#, "a \"b", 2), Some(3));
        assert_eq!(map_offset(r#""a \"b""#, "a \"b", 3), Some(5));
        assert_eq!(map_offset(r#""\u00e9'x""#, "é'x", 2), Some(7));
        assert_eq!(map_offset("'a 'b'", "a 'b", 2), Some(3));
        assert_eq!(map_offset("'''a'''", "a", 0), None);
    }
}
