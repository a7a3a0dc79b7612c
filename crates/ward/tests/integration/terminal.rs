//! Nothing a service says reaches the operator's terminal unescaped: its `STATUS=` text in
//! `ward status`, its stderr in `ward why`, its output in `ward logs` on a terminal. Pipes,
//! `--raw` and `--json` still get what the service wrote.

use std::process::{Command, Stdio};

use crate::fixture::{Ward, external, testbin, wait_for, ward_bin};

/// Clears the screen, writes a red `FAKE` and sets the window title, then rings.
const HOSTILE: &str = "\u{1b}[2J\u{1b}[31mFAKE\u{1b}]0;pwned\u{7}";
/// The same, as TOML writes it in the config.
const HOSTILE_TOML: &str = "\\u001b[2J\\u001b[31mFAKE\\u001b]0;pwned\\u0007";
/// What an operator sees instead.
const SHOWN: &str = "\\e[2J\\e[31mFAKE\\e]0;pwned\\x07";

/// Whether `out` holds ESC or BEL.
fn has_controls(out: &[u8]) -> bool {
    out.iter().any(|&b| b == 0x1b || b == 0x07)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A service that says `HOSTILE` in every way it can, once it has said it.
fn hostile() -> Ward {
    let w = Ward::up(&format!(
        "[services.evil]\ncommand = [\"{}\", \"hostile\", \"{HOSTILE_TOML}\"]\n\
         ready = \"notify\"\nrestart = \"never\"\n",
        testbin()
    ));
    w.wait_unit("evil", "its STATUS= text", |s| {
        s.status_text.as_deref() == Some(HOSTILE)
    });
    wait_for("its output in the log", || {
        let log = w.log("evil");
        (log.contains(" err \u{1b}[2J") && log.contains(" out sent")).then_some(())
    });
    w
}

/// `ward ARGS` with its standard output on a terminal (a pty, through `script`), or
/// `None` where `script` is missing.
fn on_a_terminal(w: &Ward, args: &str) -> Option<Vec<u8>> {
    let script = external("script")?;
    let command = format!("'{}' -c '{}' {args}", ward_bin(), w.config.display());
    let out = Command::new(script)
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "ward {args} on a terminal failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

#[test]
fn a_status_text_with_escapes_is_shown_escaped() {
    let w = hostile();
    let table = w.ok(&["status"]);
    assert!(!has_controls(table.as_bytes()), "{table:?}");
    assert!(table.contains(&format!("\"{SHOWN}\"")), "{table}");

    // JSON is escaped by its own rules, and reads back as what the service sent.
    let json = w.cli(&["status", "--json"]).stdout;
    assert!(!has_controls(&json), "{}", String::from_utf8_lossy(&json));
    assert!(contains(
        &json,
        b"\\u001b[2J\\u001b[31mFAKE\\u001b]0;pwned\\u0007"
    ));
    assert_eq!(w.unit("evil").status_text.as_deref(), Some(HOSTILE));
}

#[test]
fn why_shows_a_stderr_tail_with_escapes_escaped() {
    let w = hostile();
    w.ok(&["signal", "evil", "TERM"]);
    w.wait_state("evil", "exited");
    let out = w.cli(&["why", "evil"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!has_controls(&out.stdout), "{text:?}");
    assert!(text.contains(&format!("  stderr\n    {SHOWN}\n")), "{text}");

    let json = w.cli(&["why", "evil", "--json"]).stdout;
    assert!(!has_controls(&json));
    let why: serde_json::Value = serde_json::from_slice(&json).expect("why JSON");
    assert_eq!(why["stderr"][0].as_str(), Some(HOSTILE), "{why}");
}

#[test]
fn logs_are_escaped_on_a_terminal_and_raw_elsewhere() {
    let w = hostile();
    // To a pipe, and with --raw anywhere, the bytes the service wrote.
    let piped = w.cli(&["logs", "evil"]).stdout;
    assert!(contains(&piped, HOSTILE.as_bytes()), "{piped:?}");
    let Some(tty) = on_a_terminal(&w, "logs evil") else {
        return;
    };
    assert!(!has_controls(&tty), "{:?}", String::from_utf8_lossy(&tty));
    assert!(
        contains(&tty, format!(" out {SHOWN}").as_bytes()),
        "{}",
        String::from_utf8_lossy(&tty)
    );
    assert!(contains(&tty, format!(" err {SHOWN}").as_bytes()));
    let raw = on_a_terminal(&w, "logs --raw evil").expect("script is there");
    assert!(contains(&raw, HOSTILE.as_bytes()), "{raw:?}");
}
