//! Links the release daemon with the functions it runs placed together.
//!
//! The kernel maps up to 16 pages around each page of code a process runs (fault-around),
//! so a daemon that runs 2 MB of its 5.6 MB of code scattered through all of it has
//! nearly all of it resident. `link/symbol-order.txt` lists the functions a daemon of 100
//! services ran from its start to its shutdown (made by `bench/symbol-order`); LLD places
//! them first, in that order, and the code the daemon never runs stays unmapped.
//!
//! Only LLD (and mold) read such a list, and Rust links with LLD by default on x86_64
//! Linux since 1.90; on anything else the build goes on without it, as it does with
//! `WARD_NO_SYMBOL_ORDER=1` for a toolchain set to link with GNU ld. Symbols missing from
//! a build (renamed or new functions) are skipped: a stale list costs memory, never
//! correctness.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=link/symbol-order.txt");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=WARD_NO_SYMBOL_ORDER");
    if std::env::var_os("WARD_NO_SYMBOL_ORDER").is_some_and(|v| v == "1") {
        return;
    }
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !release || target != "x86_64-unknown-linux-gnu" || !links_with_lld() {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let list = Path::new(&dir).join("link/symbol-order.txt");
    println!(
        "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
        list.display()
    );
}

/// Whether rustc links with its own LLD by default: 1.90 and later on this target.
fn links_with_lld() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let minor = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
