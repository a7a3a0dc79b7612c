//! Everything the CLI prints. `println!` panics when standard output is a pipe whose
//! reader went away (`ward status | head -1`: the write fails with `EPIPE`, since Rust
//! ignores SIGPIPE); these writes return the error instead, as [`Failure::Output`], and
//! `main` ends the command quietly with exit 0 on a broken pipe, as ripgrep does.
//!
//! Standard error is only for messages and warnings: a failed write there is ignored, since
//! there is nowhere left to say so.
//!
//! Text for people (everything but `--json` and `ward logs`) passes
//! [`ward_api::escape::lines`] on its way out, on stdout and stderr alike: what a service
//! said (its `STATUS=` text, its stderr in `ward why`) is shown, never obeyed by the
//! terminal. ward's own text holds no control character but line feeds, so this changes
//! nothing else. JSON needs no such step: serde writes control characters as `\u001b`.

use std::fmt;
use std::io::{self, Write};

use serde::Serialize;
use ward_api::escape;

use crate::exit::Failure;

/// Prints one line on stdout: `outln!("{name}: {message}")?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// Prints one line on stderr, ignoring a failure: `errln!("warning: …")`.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::error_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

/// Prints `text` on stdout, escaped for a terminal.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(escape::lines(text).as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::Output)
}

/// Prints a line on stdout; see [`outln!`].
pub fn line(args: fmt::Arguments<'_>) -> Result<(), Failure> {
    let text = args.to_string();
    let mut out = io::stdout().lock();
    out.write_all(escape::lines(&text).as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(Failure::Output)
}

/// Prints `value` as JSON and a newline, serialised straight into the output: thousands of
/// units are never built as a string or a tree of values first. Indented for a person at
/// a terminal; one line for a program reading a pipe, which needs no indentation (it
/// doubles the size of `ward status --json` at 5,000 units).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<(), Failure> {
    use std::io::IsTerminal;
    let terminal = io::stdout().is_terminal();
    let mut out = io::BufWriter::new(io::stdout().lock());
    if terminal {
        serde_json::to_writer_pretty(&mut out, value)
    } else {
        serde_json::to_writer(&mut out, value)
    }
    // An error of the writer comes back as the io::Error it was (a broken pipe stays one).
    .map_err(io::Error::from)
    .and_then(|()| out.write_all(b"\n"))
    .and_then(|()| out.flush())
    .map_err(Failure::Output)
}

/// Prints a line on stderr; see [`errln!`].
pub fn error_line(args: fmt::Arguments<'_>) {
    let text = args.to_string();
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(escape::lines(&text).as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}
