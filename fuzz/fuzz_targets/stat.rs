//! `/proc/PID/stat`: any bytes are answered without a panic, and a line as the kernel
//! writes it, around a name made of the input, yields that name and its fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_sys::identity::{Stat, parse_stat};

fuzz_target!(|data: &[u8]| {
    let _ = parse_stat(data);

    // The first 13 bytes give the fields, the rest (at most 64 bytes) is the name.
    let Some((fields, comm)) = data.split_first_chunk::<13>() else {
        return;
    };
    let comm = &comm[..comm.len().min(64)];
    let ppid = u32::from_le_bytes(fields[0..4].try_into().unwrap());
    let start_time = u64::from_le_bytes(fields[4..12].try_into().unwrap());
    let state = char::from(b"RSDTtZXxIWP"[usize::from(fields[12]) % 11]);
    let mut line = b"4242 (".to_vec();
    line.extend_from_slice(comm);
    line.extend_from_slice(format!(") {state} {ppid}").as_bytes());
    for field in 5..=21 {
        line.extend_from_slice(format!(" {}", field * 1000 - 7000).as_bytes());
    }
    line.extend_from_slice(format!(" {start_time} 1 2 3\n").as_bytes());
    assert_eq!(
        parse_stat(&line),
        Some(Stat {
            comm: String::from_utf8_lossy(comm).into_owned(),
            state,
            ppid,
            start_time,
        })
    );
});
