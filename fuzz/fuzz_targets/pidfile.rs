//! PID file content: any bytes are judged without a panic; a plain PID is never 0, and a
//! ward record that was accepted reads back the same once written again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sys::pidfile::{Content, parse_content};

fuzz_target!(|data: &[u8]| {
    match parse_content(data) {
        Content::Plain(pid) => assert_ne!(pid, 0),
        Content::Ward(record) => {
            let again = serde_json::to_vec(&record).unwrap();
            assert_eq!(parse_content(&again), Content::Ward(record));
        }
        Content::Empty => assert!(String::from_utf8_lossy(data).trim().is_empty()),
        Content::Corrupted { .. } => {}
    }
});
