//! sd_notify datagrams: any bytes are read without a panic, exactly as a line-by-line
//! reading of the bytes says, with a status of at most 256 bytes cut at a character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_core::notify::parse;

fuzz_target!(|data: &[u8]| {
    let m = parse(data);
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let said = |what: &[u8]| lines.contains(&what);
    assert_eq!(m.ready, said(b"READY=1"));
    assert_eq!(m.watchdog, said(b"WATCHDOG=1"));
    assert_eq!(m.watchdog_trigger, said(b"WATCHDOG=trigger"));
    assert_eq!(m.stopping, said(b"STOPPING=1"));
    let full = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(b"STATUS="))
        .map(|v| String::from_utf8_lossy(v).into_owned());
    match (&m.status, &full) {
        (None, None) => {}
        (Some(status), Some(full)) => {
            assert!(status.len() <= 256);
            assert!(full.starts_with(status.as_str()));
            assert!(status.len() == full.len() || status.len() > 256 - 4);
        }
        _ => panic!("status {:?}, but the datagram says {full:?}", m.status),
    }
});
