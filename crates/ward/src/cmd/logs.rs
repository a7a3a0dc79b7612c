//! `ward logs NAME… [-f] [-n N] [--reopen] [--raw]`: read straight from the log files, so
//! logs can be read while the daemon is down too.
//!
//! The lines are what the services wrote. To a terminal they go escaped
//! ([`ward_api::escape::bytes`]), so that a service cannot clear the operator's screen,
//! recolour it or set its title; to a pipe or a file, and with `--raw`, they go as bytes,
//! for tools that want them exactly.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use ward_api::Ack;
use ward_core::config::{Config, SupervisorConfig};

use crate::client::{self, Empty, Method, Timeout};
use crate::exit::{Failure, OK};
use crate::out::outln;

/// How often `-f` looks for new output.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// `ward logs --reopen`: needs only the socket.
pub fn reopen(sup: &SupervisorConfig, timeout: Timeout) -> Result<i32, Failure> {
    let _: Ack = client::call(
        &sup.socket,
        Method::Post("/v1/logs/reopen", Empty {}),
        timeout,
    )?;
    outln!("log files reopened")?;
    Ok(OK)
}

/// Prints the logs; `escape` shows control characters as visible escapes.
pub fn logs(
    config: &Config,
    names: &[String],
    follow: bool,
    lines: usize,
    escape: bool,
) -> Result<i32, Failure> {
    let units = select(config, names)?;
    let prefix = units.len() > 1;
    let width = units.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = io::stdout().lock();
    let mut files: Vec<Followed> = Vec::new();
    for (name, path) in units {
        let label = if prefix {
            format!("{name:width$} | ")
        } else {
            String::new()
        };
        let (shown, opened) = match tail(&path, lines) {
            Ok(Tail { shown, file, end }) => (shown, Some((file, end))),
            Err(_) => (Vec::new(), None),
        };
        write_lines(&mut out, &label, &shown, escape).map_err(Failure::Output)?;
        files.push(Followed::new(label, path, opened));
    }
    out.flush().map_err(Failure::Output)?;
    if !follow {
        return Ok(OK);
    }
    // A reader that went away (`ward logs -f | head`) ends this loop, and the command
    // quietly (see main).
    loop {
        for f in &mut files {
            let new = f.read_new();
            write_lines(&mut out, &f.label, &new, escape).map_err(Failure::Output)?;
        }
        out.flush().map_err(Failure::Output)?;
        std::thread::sleep(FOLLOW_POLL);
    }
}

/// The units named (a service name selects all its instances; none selects all) and
/// their log files.
fn select(config: &Config, names: &[String]) -> Result<Vec<(String, PathBuf)>, Failure> {
    let all = config.instances();
    let mut out = Vec::new();
    for name in names {
        let before = out.len();
        for i in &all {
            if (&i.name == name || &i.service.name == name)
                && !out.iter().any(|(n, _)| n == &i.name)
            {
                out.push((i.name.clone(), log_file(config, &i.name)));
            }
        }
        if out.len() == before {
            return Err(Failure::Usage(format!(
                "no service named `{name}` in {}",
                config.path.display()
            )));
        }
    }
    if names.is_empty() {
        out = all
            .iter()
            .map(|i| (i.name.clone(), log_file(config, &i.name)))
            .collect();
    }
    Ok(out)
}

fn log_file(config: &Config, unit: &str) -> PathBuf {
    config.supervisor.log_dir.join(format!("{unit}.log"))
}

fn write_lines(out: &mut impl Write, label: &str, bytes: &[u8], escape: bool) -> io::Result<()> {
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        out.write_all(label.as_bytes())?;
        if escape {
            out.write_all(ward_api::escape::bytes(line).as_bytes())?;
        } else {
            out.write_all(line)?;
        }
    }
    Ok(())
}

/// What `tail` showed, and where following it goes on.
struct Tail {
    /// The last whole lines.
    shown: Vec<u8>,
    /// The file they were read from.
    file: File,
    /// The offset just past the last line shown: `-f` starts exactly there, so a line
    /// written between the tail and the follow is neither lost nor shown twice.
    end: u64,
}

/// The last `n` whole lines of a file, read backwards in blocks so a large log costs only
/// what is shown.
fn tail(path: &PathBuf, n: usize) -> io::Result<Tail> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if n == 0 {
        // Nothing shown: following starts after the last whole line there is now.
        let mut text = Vec::new();
        f.read_to_end(&mut text)?;
        let end = text
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i as u64 + 1);
        return Ok(Tail {
            shown: Vec::new(),
            file: f,
            end,
        });
    }
    const BLOCK: u64 = 64 * 1024;
    let mut start = len;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let newlines = buf.iter().filter(|&&b| b == b'\n').count();
        // One more newline than lines: the one that ends the line before the first shown.
        if newlines > n || start == 0 {
            break;
        }
        let from = start.saturating_sub(BLOCK);
        let mut block = vec![0u8; (start - from) as usize];
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut block)?;
        block.extend_from_slice(&buf);
        buf = block;
        start = from;
    }
    let ends: Vec<usize> = buf
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .map(|(i, _)| i)
        .collect();
    // Drop a last line that has no newline yet; it will come whole with `-f`.
    let end = ends.last().map_or(0, |&i| i + 1);
    let skip = if ends.len() > n {
        ends[ends.len() - n - 1] + 1
    } else {
        0
    };
    Ok(Tail {
        shown: buf[skip..end].to_vec(),
        file: f,
        end: start + end as u64,
    })
}

/// A log file being followed across rotations.
struct Followed {
    label: String,
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    offset: u64,
}

impl Followed {
    /// Starts where `tail` stopped, in the file it read; with no file yet, at the start
    /// of the one that appears.
    fn new(label: String, path: PathBuf, opened: Option<(File, u64)>) -> Followed {
        let mut f = Followed {
            label,
            path,
            file: None,
            inode: 0,
            offset: 0,
        };
        if let Some((file, end)) = opened
            && let Ok(meta) = file.metadata()
        {
            f.offset = end;
            f.inode = meta.ino();
            f.file = Some(file);
        }
        f
    }

    /// Whole lines added since the last call; follows the file to its new inode when it
    /// was rotated, after reading what was left in the old one.
    fn read_new(&mut self) -> Vec<u8> {
        let mut out = self.read_current();
        let rotated = match std::fs::metadata(&self.path) {
            Ok(meta) => meta.ino() != self.inode || meta.len() < self.offset,
            Err(_) => false,
        };
        if (rotated || self.file.is_none())
            && let Ok(file) = File::open(&self.path)
            && let Ok(meta) = file.metadata()
        {
            self.inode = meta.ino();
            self.offset = 0;
            self.file = Some(file);
            out.extend(self.read_current());
        }
        out
    }

    fn read_current(&mut self) -> Vec<u8> {
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        let whole = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        buf.truncate(whole);
        self.offset += whole as u64;
        buf
    }
}
