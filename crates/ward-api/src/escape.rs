//! Text that a service wrote, made safe to show on a terminal.
//!
//! A service controls its output, its `STATUS=` text and so part of what `ward status`,
//! `ward why` and `ward logs` print. A terminal acts on control characters: ESC starts a
//! sequence that can clear the screen, move the cursor, recolour text or set the window
//! title; CSI (U+009B) does the same in one character; CR and backspace overwrite what
//! was printed; BEL rings. So the CLI shows every control character as a visible escape
//! before text from a service reaches a terminal:
//!
//! | what | shown as |
//! |---|---|
//! | ESC (0x1b) | `\e` |
//! | CR, LF | `\r`, `\n` (LF is kept as a line break where the text is a series of lines) |
//! | any other C0 control (0x00–0x1f but tab), DEL (0x7f) | `\xNN`: `\x07` for BEL, `\x08` for backspace |
//! | a C1 control, U+0080–U+009F (CSI is U+009B) | `\u{NN}`: `\u{9b}` |
//! | a byte that is not part of valid UTF-8 | `\xNN`: `\x9b` |
//!
//! Tab is kept: it moves the cursor only to the next tab stop, and services indent with
//! it. A backslash is kept as it is, so the escaped form is for the eye and cannot be
//! turned back into the bytes (`ward logs --raw` and `--json` give those). Other Unicode,
//! bidirectional marks included, passes: it changes how text looks, not what the terminal
//! does.

use std::borrow::Cow;
use std::fmt::Write;

/// Escapes every control character but tab, line feeds included: for one line or one
/// table cell.
pub fn line(text: &str) -> Cow<'_, str> {
    escape_str(text, false)
}

/// Like [`line`], but keeps line feeds as line breaks: for text made of lines.
pub fn lines(text: &str) -> Cow<'_, str> {
    escape_str(text, true)
}

/// Like [`lines`], for bytes that may not be UTF-8 (a log file): each byte outside valid
/// UTF-8 is shown as `\xNN`.
pub fn bytes(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(text) => escape_str(text, true),
        Err(_) => {
            let mut out = String::with_capacity(raw.len() + 16);
            for chunk in raw.utf8_chunks() {
                push_escaped(&mut out, chunk.valid(), true);
                for b in chunk.invalid() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Whether the terminal would act on `c` (with line feeds kept or not).
fn acts(c: char, keep_newlines: bool) -> bool {
    c.is_control() && c != '\t' && !(keep_newlines && c == '\n')
}

fn escape_str(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| acts(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    push_escaped(&mut out, text, keep_newlines);
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, text: &str, keep_newlines: bool) {
    for c in text.chars() {
        if !acts(c, keep_newlines) {
            out.push(c);
            continue;
        }
        match c {
            '\u{1b}' => out.push_str("\\e"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\0'..='\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_escapes_of_a_fake_screen_become_visible() {
        let hostile = "\u{1b}[2J\u{1b}[31mFAKE\u{1b}]0;pwned\u{7}";
        assert_eq!(line(hostile), "\\e[2J\\e[31mFAKE\\e]0;pwned\\x07");
        assert_eq!(
            line("a\rb\u{8}c\u{7f}d\u{9b}31me\nf\tg\0"),
            "a\\rb\\x08c\\x7fd\\u{9b}31me\\nf\tg\\x00"
        );
        assert_eq!(lines("one\ntwo\u{1b}\n"), "one\ntwo\\e\n");
    }

    #[test]
    fn plain_text_is_not_copied() {
        for text in ["", "serving 12 clients", "tab\tand é, ü, 日本, \u{202e}"] {
            assert!(matches!(line(text), Cow::Borrowed(_)), "{text:?}");
        }
        assert!(matches!(bytes(b"a\nb\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn bytes_outside_utf8_are_shown_as_bytes() {
        // A raw 0x9b is CSI to a terminal in an 8-bit mode.
        assert_eq!(bytes(b"x\x9b31my\n\xff\x1b\n"), "x\\x9b31my\n\\xff\\e\n");
        assert_eq!(bytes("é\u{9b}".as_bytes()), "é\\u{9b}");
    }

    proptest::proptest! {
        /// Whatever the bytes, what comes out holds no byte a terminal acts on (tab and,
        /// for [`bytes`], line feed aside), and text without such bytes is unchanged.
        #[test]
        fn nothing_a_terminal_acts_on_gets_through(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let out = bytes(&raw);
            for c in out.chars() {
                proptest::prop_assert!(!c.is_control() || c == '\t' || c == '\n', "{c:?} in {out:?}");
            }
            let text = String::from_utf8_lossy(&raw);
            let once = line(&text);
            proptest::prop_assert!(once.chars().all(|c| !c.is_control() || c == '\t'));
            // Escaping twice changes nothing more.
            proptest::prop_assert_eq!(line(&once), once.clone());
            if !text.chars().any(|c| c.is_control() && c != '\t') {
                proptest::prop_assert_eq!(once.as_ref(), text.as_ref());
            }
        }
    }
}
