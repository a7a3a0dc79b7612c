//! `${VAR}` in a service's `command` and `env`: variables expanded by ward itself, never
//! by a shell. `${NAME}` is the variable's value and `$${` a literal `${`; every other `$`
//! stays as it is, so that a `$` in an argument (a price, a regex, a shell's `$$` in
//! `["sh", "-c", …]`) needs no escaping. Nothing else is interpreted: no defaults, no
//! nesting, no commands.

/// One `${NAME}` in a text: where its `$` is (byte offset) and the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Byte offset of the `$`.
    pub at: usize,
    /// The variable's name.
    pub name: String,
}

/// A `${` that is not a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// Byte offset of the `$`.
    pub at: usize,
    /// What is wrong, in words.
    pub why: String,
}

/// Every `${NAME}` of `text`, in order.
pub fn references(text: &str) -> Result<Vec<Reference>, Malformed> {
    let mut out = Vec::new();
    scan(text, |piece| {
        if let Piece::Var { at, name } = piece {
            out.push(Reference {
                at,
                name: name.to_string(),
            });
        }
    })?;
    Ok(out)
}

/// `text` with every `${NAME}` replaced by `lookup(NAME)` and `$${` by `${`. Names `lookup`
/// does not know expand to nothing and are returned, for the caller to report.
pub fn expand<'a>(text: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> (String, Vec<String>) {
    if !text.contains('$') {
        return (text.to_string(), Vec::new());
    }
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    // A malformed text was refused when the config was loaded; if one gets here anyway,
    // it is kept as written.
    let scanned = scan(text, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Dollar => out.push('$'),
        Piece::Var { name, .. } => match lookup(name) {
            Some(v) => out.push_str(v),
            None => unset.push(name.to_string()),
        },
    });
    match scanned {
        Ok(()) => (out, unset),
        Err(_) => (text.to_string(), Vec::new()),
    }
}

/// A piece of a text, as expansion sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part<'t> {
    /// Text that stays as it is (a `$${` escape comes as the text `$` then `{…`).
    Text(&'t str),
    /// A `${NAME}` reference.
    Var(&'t str),
}

/// The pieces of `text`, for a writer that must say the same in another syntax (a systemd
/// command line); a malformed text is one piece of text.
pub fn parts(text: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let scanned = scan(text, |piece| match piece {
        Piece::Text(t) if !t.is_empty() => out.push(Part::Text(t)),
        Piece::Text(_) => {}
        Piece::Dollar => out.push(Part::Text("$")),
        Piece::Var { name, .. } => out.push(Part::Var(name)),
    });
    match scanned {
        Ok(()) => out,
        Err(_) => vec![Part::Text(text)],
    }
}

enum Piece<'t> {
    Text(&'t str),
    Dollar,
    Var { at: usize, name: &'t str },
}

fn scan<'t>(text: &'t str, mut emit: impl FnMut(Piece<'t>)) -> Result<(), Malformed> {
    let bytes = text.as_bytes();
    let (mut i, mut plain) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') if bytes.get(i + 2) == Some(&b'{') => {
                emit(Piece::Text(&text[plain..i]));
                emit(Piece::Dollar);
                // The `{` is plain text from here.
                i += 2;
                plain = i;
            }
            Some(b'{') => {
                let Some(len) = text[i + 2..].find('}') else {
                    return Err(Malformed {
                        at: i,
                        why: "`${` without its closing `}`".into(),
                    });
                };
                let name = &text[i + 2..i + 2 + len];
                if !is_name(name) {
                    return Err(Malformed {
                        at: i,
                        why: format!(
                            "`${{{name}}}` is not a variable: a name is letters, digits and `_`, \
                             not starting with a digit (defaults and other shell forms are not \
                             expanded)"
                        ),
                    });
                }
                emit(Piece::Text(&text[plain..i]));
                emit(Piece::Var { at: i, name });
                i += 3 + len;
                plain = i;
            }
            _ => i += 1,
        }
    }
    emit(Piece::Text(&text[plain..]));
    Ok(())
}

/// Whether `name` is a variable name: letters, digits and `_`, not starting with a digit.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<&'static str> {
        match name {
            "PORT" => Some("8001"),
            "WARD_INSTANCE" => Some("1"),
            "EMPTY" => Some(""),
            _ => None,
        }
    }

    #[test]
    fn references_and_literals() {
        assert_eq!(
            expand("--port=${PORT}", env),
            ("--port=8001".into(), vec![])
        );
        assert_eq!(
            expand("w${WARD_INSTANCE}-${PORT}${EMPTY}", env),
            ("w1-8001".into(), vec![])
        );
        assert_eq!(
            expand("$$PORT costs $5", env),
            ("$$PORT costs $5".into(), vec![])
        );
        assert_eq!(expand("a$", env), ("a$".into(), vec![]));
        assert_eq!(expand("$${PORT}", env), ("${PORT}".into(), vec![]));
        assert_eq!(expand("$$${PORT}", env), ("$${PORT}".into(), vec![]));
        assert_eq!(
            expand("echo $$ > pid", env),
            ("echo $$ > pid".into(), vec![])
        );
        assert_eq!(
            expand("${NOPE}/x", env),
            ("/x".into(), vec!["NOPE".to_string()])
        );
        assert_eq!(
            references("${A} $B ${C_1} $${D}").unwrap(),
            [
                Reference {
                    at: 0,
                    name: "A".into()
                },
                Reference {
                    at: 8,
                    name: "C_1".into()
                }
            ]
        );
    }

    #[test]
    fn shell_forms_are_refused_with_their_place() {
        assert_eq!(references("x ${PORT").unwrap_err().at, 2);
        let e = references("${PORT:-80}").unwrap_err();
        assert!(e.why.contains("not a variable"), "{e:?}");
        assert!(references("${1}").is_err());
        assert!(references("${}").is_err());
        // A malformed text is kept as written if it ever reaches expansion.
        assert_eq!(expand("${PORT", env).0, "${PORT");
    }

    proptest::proptest! {
        /// Text without `$` comes out as it went in; expansion never panics.
        #[test]
        fn plain_text_is_unchanged(s in "[^$]{0,40}", t in ".{0,40}") {
            proptest::prop_assert_eq!(expand(&s, env).0, s);
            let _ = expand(&t, env);
            let _ = references(&t);
        }
    }
}
