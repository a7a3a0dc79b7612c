//! `ward completions` read by bash itself, and `ward man` rendered by man.

use std::process::Command;

use crate::fixture::{external, ward_bin};

#[test]
fn bash_completes_subcommands_and_man_renders_the_page() {
    let Some(bash) = external("bash") else {
        return;
    };
    let script = format!(
        // As bash calls a completion function: the command, the word, the word before.
        "source <({} completions bash) || exit 9; COMP_WORDS=(ward to); COMP_CWORD=1; \
         _ward ward to ward; echo \"${{COMPREPLY[@]}}\"; COMP_WORDS=(ward events --f); \
         COMP_CWORD=2; _ward ward --f events; echo \"${{COMPREPLY[@]}}\"",
        ward_bin()
    );
    let out = Command::new(bash)
        .args(["-c", &script])
        .output()
        .expect("bash");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = said.lines();
    assert_eq!(lines.next(), Some("top"), "{said}");
    assert_eq!(lines.next(), Some("--follow"), "{said}");
    for shell in ["zsh", "fish", "elvish"] {
        let out = Command::new(ward_bin())
            .args(["completions", shell])
            .output()
            .expect("ward");
        assert!(out.status.success() && out.stdout.len() > 500, "{shell}");
    }
    let Some(man) = external("man") else {
        return;
    };
    let page = Command::new(ward_bin())
        .arg("man")
        .output()
        .expect("ward man");
    assert!(page.stdout.starts_with(b".ie") || page.stdout.starts_with(b".TH"));
    let path = std::env::temp_dir().join(format!("ward-man-{}.1", std::process::id()));
    std::fs::write(&path, &page.stdout).expect("write page");
    let rendered = Command::new(man)
        .arg("-l")
        .arg(&path)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(
        text.contains("NAME") && text.contains("ward - A process supervisor"),
        "{text}"
    );
    assert!(
        text.contains("top") && text.contains("completions"),
        "{text}"
    );
}
