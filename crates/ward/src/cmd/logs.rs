//! `ward logs NAME… [-f] [-n N] [--since D] [--until D] [--grep TEXT] [--stderr] [--reopen]
//! [--raw]`: read straight from the log files, so logs can be read while the daemon is
//! down too. Several units' lines are merged by their timestamps, each after its unit's
//! name (coloured on a terminal); `--since` reads the rotated files too.
//!
//! The lines are what the services wrote. To a terminal they go escaped
//! ([`ward_api::escape::bytes`]), so that a service cannot clear the operator's screen,
//! recolour it or set its title; to a pipe or a file, and with `--raw`, they go as bytes,
//! for tools that want them exactly.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ward_api::Ack;
use ward_core::config::{Config, SupervisorConfig};

use crate::client::{self, Empty, Method, Timeout};
use crate::cmd::log_lines::{self, Filter};
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

/// What `ward logs` was asked.
pub struct LogArgs {
    pub names: Vec<String>,
    pub follow: bool,
    pub lines: usize,
    /// Show control characters as visible escapes (a terminal, without `--raw`).
    pub escape: bool,
    /// Colour the names before the lines (a terminal, without `--raw`).
    pub color: bool,
    pub filter: Filter,
}

/// Prints the logs: each unit's last lines (or, with `--since`, every line since, rotated
/// files included), merged by time, then with `-f` what comes, merged the same way.
pub fn logs(config: &Config, args: LogArgs) -> Result<i32, Failure> {
    if config.supervisor.log_to == ward_core::config::LogTo::Stdout {
        return Err(Failure::Usage(format!(
            "{}: log_to = \"stdout\": the services' output goes to the daemon's standard \
             output and error, not to log files\n  hint: read it where the daemon's output \
             goes (`docker logs`, `kubectl logs`, the terminal of `ward up`)",
            config.path.display()
        )));
    }
    let units = select(config, &args.names)?;
    let prefix = units.len() > 1;
    let width = units.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let labels: Vec<String> = units
        .iter()
        .enumerate()
        .map(|(i, (name, _))| match (prefix, args.color) {
            (false, _) => String::new(),
            (true, false) => format!("{name:width$} | "),
            // Six colours, one per unit in turn, on the name alone.
            (true, true) => format!("\x1b[3{}m{name:width$}\x1b[0m | ", 1 + i % 6),
        })
        .collect();
    let mut out = io::stdout().lock();
    let mut files: Vec<Followed> = Vec::new();
    let mut shown: Vec<Vec<u8>> = Vec::new();
    for (_, path) in &units {
        let (text, opened) = first_lines(path, args.lines, &args.filter);
        shown.push(text);
        files.push(Followed::new(path.clone(), opened));
    }
    print_merged(&mut out, &labels, &shown, &args.filter, args.escape).map_err(Failure::Output)?;
    out.flush().map_err(Failure::Output)?;
    if !args.follow {
        return Ok(OK);
    }
    // A reader that went away (`ward logs -f | head`) ends this loop, and the command
    // quietly (see main).
    loop {
        let new: Vec<Vec<u8>> = files.iter_mut().map(Followed::read_new).collect();
        print_merged(&mut out, &labels, &new, &args.filter, args.escape)
            .map_err(Failure::Output)?;
        out.flush().map_err(Failure::Output)?;
        std::thread::sleep(FOLLOW_POLL);
    }
}

/// What is shown of one log before following it, and where following goes on: its last
/// `n` lines; with a filter, its last `n` matching lines; with `--since`, every line of
/// its rotated files and of itself (the filter picks among them later).
fn first_lines(path: &Path, n: usize, filter: &Filter) -> (Vec<u8>, Option<(File, u64)>) {
    if !filter.any() {
        return match tail(path, n) {
            Ok(Tail { shown, file, end }) => (shown, Some((file, end))),
            Err(_) => (Vec::new(), None),
        };
    }
    let mut text = Vec::new();
    if filter.since.is_some() {
        for old in rotated(path) {
            if let Ok(bytes) = std::fs::read(&old) {
                text.extend_from_slice(&bytes[..whole(&bytes)]);
            }
        }
    }
    let opened = File::open(path).ok().and_then(|mut f| {
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).ok()?;
        let end = whole(&bytes);
        text.extend_from_slice(&bytes[..end]);
        Some((f, end as u64))
    });
    if filter.since.is_none() {
        // The last `n` lines that pass the filter.
        let kept: Vec<&[u8]> = log_lines::lines(&text)
            .into_iter()
            .filter(|l| filter.keeps(l))
            .collect();
        text = kept[kept.len().saturating_sub(n)..].concat();
    }
    (text, opened)
}

/// The length of `bytes` up to and with its last newline.
fn whole(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// The rotated files of a log, oldest first: `NAME.log.N` … `NAME.log.1`.
fn rotated(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for k in 1.. {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".{k}"));
        let p = PathBuf::from(name);
        if !p.exists() {
            break;
        }
        found.push(p);
    }
    found.reverse();
    found
}

/// Prints the lines of every unit that pass the filter, merged by their timestamps.
fn print_merged(
    out: &mut impl Write,
    labels: &[String],
    per_unit: &[Vec<u8>],
    filter: &Filter,
    escape: bool,
) -> io::Result<()> {
    let split: Vec<Vec<&[u8]>> = per_unit
        .iter()
        .map(|b| {
            log_lines::lines(b)
                .into_iter()
                .filter(|l| filter.keeps(l))
                .collect()
        })
        .collect();
    for (unit, line) in log_lines::merge(&split) {
        out.write_all(labels[unit].as_bytes())?;
        if escape {
            out.write_all(ward_api::escape::bytes(line).as_bytes())?;
        } else {
            out.write_all(line)?;
        }
    }
    Ok(())
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
                out.push((i.name.clone(), config.supervisor.log_file(&i.name)));
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
            .map(|i| (i.name.clone(), config.supervisor.log_file(&i.name)))
            .collect();
    }
    Ok(out)
}

/// The last `n` whole lines of a log file, nothing when it cannot be read: for `ward top`.
pub(crate) fn last_lines(path: &Path, n: usize) -> Vec<u8> {
    tail(path, n).map(|t| t.shown).unwrap_or_default()
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
fn tail(path: &Path, n: usize) -> io::Result<Tail> {
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
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    offset: u64,
}

impl Followed {
    /// Starts where `tail` stopped, in the file it read; with no file yet, at the start
    /// of the one that appears.
    fn new(path: PathBuf, opened: Option<(File, u64)>) -> Followed {
        let mut f = Followed {
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
