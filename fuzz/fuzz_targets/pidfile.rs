//! PID file content: any bytes are judged without a panic; a plain PID is never 0 and is
//! written in ASCII digits, white space alone is empty, and a ward record that was
//! accepted reads back the same once written again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sys::pidfile::{Content, parse_content};

fuzz_target!(|data: &[u8]| {
    match parse_content(data) {
        Content::Plain(pid) => {
            assert_ne!(pid, 0);
            let digits = data.trim_ascii();
            assert!(digits.iter().all(u8::is_ascii_digit));
            assert_eq!(std::str::from_utf8(digits).unwrap().parse::<u32>(), Ok(pid));
        }
        Content::Ward(record) => {
            let again = serde_json::to_vec(&record).unwrap();
            assert_eq!(parse_content(&again), Content::Ward(record));
        }
        Content::Empty => assert!(data.iter().all(u8::is_ascii_whitespace)),
        Content::Corrupted { .. } => {}
    }
});
