//! Reading the small text files of `/proc` and cgroupfs in few system calls.
//!
//! `std::fs::read_to_string` asks for the file's size first, and these files report 0, so
//! it reads in steps that grow from 32 bytes: `/proc/vmstat` took eleven calls. ward reads
//! such files at every exit and spawn, and one per unit for `ward status`. Here it is one
//! `open`, reads of 4 KiB until end of file, and one `close`.

use std::io;
use std::path::Path;

use rustix::fs::{Mode, OFlags, open};

/// The whole file as text.
pub fn read(path: impl AsRef<Path>) -> io::Result<String> {
    let out = read_bytes(path.as_ref())?;
    String::from_utf8(out).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8", path.as_ref().display()),
        )
    })
}

/// The whole file as bytes, for files that may hold text the kernel did not write, such
/// as a process's name in `/proc/PID/stat`.
pub fn read_bytes(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let fd = open(
        path.as_ref(),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match rustix::io::read(&fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_longer_than_one_chunk_and_reports_missing_ones() {
        let vmstat = read("/proc/vmstat").expect("vmstat");
        assert!(vmstat.ends_with('\n') && vmstat.contains("nr_free_pages "));
        let dir = tempfile::tempdir().expect("tempdir");
        let long = "x".repeat(10_000) + "\n";
        std::fs::write(dir.path().join("f"), &long).expect("write");
        assert_eq!(read(dir.path().join("f")).expect("read"), long);
        let e = read(dir.path().join("missing")).expect_err("missing");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
