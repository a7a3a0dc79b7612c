//! `ward.toml`: any text is answered without a panic, and every problem is placed at a
//! line and column inside the text, in file order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/ward/ward.toml");
    let _ = ward_core::config::locate(path, text);
    let Err(errors) = ward_core::config::parse(path, text) else {
        return;
    };
    assert!(!errors.errors.is_empty());
    let lines: Vec<&str> = text.split('\n').collect();
    for e in &errors.errors {
        assert!((1..=lines.len()).contains(&e.line), "{e}");
        let width = lines[e.line - 1].chars().count();
        assert!((1..=width + 1).contains(&e.column), "{e}");
    }
    let places: Vec<_> = errors.errors.iter().map(|e| (e.line, e.column)).collect();
    assert!(places.is_sorted(), "{places:?}");
});
