//! Splitting a `command` string into argv the way a POSIX shell splits words, without a shell.
//!
//! Supported: whitespace between words, `'single quotes'` (everything literal), `"double
//! quotes"` (where a backslash escapes `$`, `` ` ``, `"`, `\` and newline), and a backslash
//! outside quotes escaping any character. Only `${NAME}` is kept for ward to expand
//! (`crate::expand`); a `${` that is quoted or escaped comes out as `$${`, the expander's
//! literal `${`, so it stays text. Nothing else is expanded, so characters that only mean
//! something to a shell (`|`, `&`, `;`, `<`, `>`, `` ` `` and `$`) are rejected when they are
//! not quoted, rather than silently passed on as arguments. So are the ones a shell expands
//! to file names (`*`, `?`, `[`) and, at the start of a word, to a home directory (`~`):
//! whoever wrote them meant a shell, and would otherwise get a literal `*.log`.

/// Why a command string could not be split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WordsError {
    /// A `'` at this byte offset is never closed.
    UnterminatedSingle(usize),
    /// A `"` at this byte offset is never closed.
    UnterminatedDouble(usize),
    /// The string ends with a lone `\` at this byte offset.
    TrailingBackslash(usize),
    /// An unquoted character at this byte offset only a shell would understand.
    NeedsShell(usize, char),
}

/// Characters a shell would act on outside quotes.
const SHELL_ONLY: &[char] = &['|', '&', ';', '<', '>', '`', '$', '*', '?', '['];

/// Characters a shell would act on inside double quotes.
const SHELL_ONLY_IN_DOUBLE: &[char] = &['`', '$'];

/// Pushes a character that is literal: a `{` after a `$` (always a literal one: a
/// reference ends with `}`) becomes the expander's `$${`.
fn literal(word: &mut String, c: char) {
    if c == '{' && word.ends_with('$') {
        word.push('$');
    }
    word.push(c);
}

/// After a `$` at byte `i` outside single quotes: `${NAME}` and `$$` are kept for the
/// expander; any other `$` is a shell's.
fn dollar(
    i: usize,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    word: &mut String,
) -> Result<(), WordsError> {
    match chars.peek() {
        // A `$` of text right before a reference is what the expander cannot tell from
        // its escape: refused, like any other `$` a shell would have to read.
        Some((_, '{')) if !word.ends_with('$') => {
            word.push('$');
            for (_, c) in chars.by_ref() {
                word.push(c);
                if c == '}' {
                    return Ok(());
                }
            }
            Err(WordsError::NeedsShell(i, '$'))
        }
        _ => Err(WordsError::NeedsShell(i, '$')),
    }
}

/// Splits `text` into words.
pub(crate) fn split(text: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word exists once anything, even `''`, has been seen since the last separator.
    let mut in_word = false;
    let mut chars = text.char_indices().peekable();

    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => literal(&mut word, c),
                        None => return Err(WordsError::UnterminatedSingle(i)),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\n')) => {}
                            Some((_, c @ ('$' | '`' | '"' | '\\'))) => literal(&mut word, c),
                            Some((_, c)) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(WordsError::UnterminatedDouble(i)),
                        },
                        Some((j, '$')) => dollar(j, &mut chars, &mut word)?,
                        Some((j, c)) if SHELL_ONLY_IN_DOUBLE.contains(&c) => {
                            return Err(WordsError::NeedsShell(j, c));
                        }
                        Some((_, c)) => literal(&mut word, c),
                        None => return Err(WordsError::UnterminatedDouble(i)),
                    }
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, c)) => {
                    in_word = true;
                    literal(&mut word, c);
                }
                None => return Err(WordsError::TrailingBackslash(i)),
            },
            '$' => {
                in_word = true;
                dollar(i, &mut chars, &mut word)?;
            }
            c if SHELL_ONLY.contains(&c) => return Err(WordsError::NeedsShell(i, c)),
            '~' if !in_word => return Err(WordsError::NeedsShell(i, '~')),
            c => {
                in_word = true;
                literal(&mut word, c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(text: &str) -> Vec<String> {
        split(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
    }

    #[test]
    fn splits_on_whitespace() {
        assert_eq!(ok("  a  b\tc\nd  "), ["a", "b", "c", "d"]);
        assert!(ok("").is_empty());
        assert!(ok(" \t ").is_empty());
    }

    #[test]
    fn quotes() {
        assert_eq!(ok(r#"echo 'a b' "c d""#), ["echo", "a b", "c d"]);
        assert_eq!(ok(r#"a'b'"c"d"#), ["abcd"]);
        assert_eq!(ok(r#"x '' """#), ["x", "", ""]);
        assert_eq!(ok(r#"'a "b" \n'"#), [r#"a "b" \n"#]);
        assert_eq!(ok(r#"'$HOME | x'"#), ["$HOME | x"]);
    }

    #[test]
    fn references_are_kept_for_the_expander() {
        assert_eq!(ok("app --port ${PORT}"), ["app", "--port", "${PORT}"]);
        assert_eq!(ok(r#""a ${X} b""#), ["a ${X} b"]);
        // Quoted or escaped, `${` is text: the expander's `$${`.
        assert_eq!(ok(r"'${X}' \${X} '$'{"), ["$${X}", "$${X}", "$${"]);
        assert_eq!(split("a ${X"), Err(WordsError::NeedsShell(2, '$')));
        assert_eq!(split("a $X"), Err(WordsError::NeedsShell(2, '$')));
        assert_eq!(split("a $$"), Err(WordsError::NeedsShell(2, '$')));
        assert_eq!(split("'$'${X}"), Err(WordsError::NeedsShell(3, '$')));
    }

    #[test]
    fn backslashes() {
        assert_eq!(ok(r"a\ b c"), ["a b", "c"]);
        assert_eq!(ok(r"\'x\'"), ["'x'"]);
        assert_eq!(ok(r#""a \"q\" \\ \$ \n""#), [r#"a "q" \ $ \n"#]);
        assert_eq!(ok("a\\\nb"), ["ab"]);
        assert_eq!(ok(r"\|"), ["|"]);
    }

    #[test]
    fn errors() {
        assert_eq!(split("echo 'abc"), Err(WordsError::UnterminatedSingle(5)));
        assert_eq!(split(r#"a "b\""#), Err(WordsError::UnterminatedDouble(2)));
        assert_eq!(split("a \\"), Err(WordsError::TrailingBackslash(2)));
        assert_eq!(split("a | b"), Err(WordsError::NeedsShell(2, '|')));
        assert_eq!(split("rm *.log"), Err(WordsError::NeedsShell(3, '*')));
        assert_eq!(split("ls a?"), Err(WordsError::NeedsShell(4, '?')));
        assert_eq!(split("ls [ab]"), Err(WordsError::NeedsShell(3, '[')));
        assert_eq!(split("cat ~/x"), Err(WordsError::NeedsShell(4, '~')));
        // Quoted, or inside a word, they are what they are.
        assert_eq!(
            ok("ls '*.log' \\? \"[x]\" a~b"),
            ["ls", "*.log", "?", "[x]", "a~b"]
        );
        assert_eq!(split("a >/dev/null"), Err(WordsError::NeedsShell(2, '>')));
        assert_eq!(
            split(r#"echo "$HOME""#),
            Err(WordsError::NeedsShell(6, '$'))
        );
    }

    /// Quotes a word so that `split` gives it back unchanged.
    fn quote(word: &str) -> String {
        format!("'{}'", word.replace('\'', r"'\''"))
    }

    proptest! {
        #[test]
        fn quoted_words_round_trip(words in proptest::collection::vec(".*", 0..6)) {
            let line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
            let expanded: Vec<String> = split(&line)
                .unwrap()
                .iter()
                .map(|w| crate::expand::expand(w, |_| None).0)
                .collect();
            prop_assert_eq!(expanded, words);
        }

        #[test]
        fn never_panics(text in ".*") {
            let _ = split(&text);
        }
    }
}
