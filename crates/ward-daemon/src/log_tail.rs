//! The tail of a unit's log for `GET /v1/logs`, and its following as Server-Sent Events
//! (`?follow=true`, the dashboard's live log). The file is what the log writer made
//! (`<timestamp> out|err|ward <text>`, secrets already masked), read off the daemon's loop.
//!
//! A follower looks at the file's length four times a second while its reader is
//! connected, and sends what was added, whole lines only; a file that shrank or was
//! replaced (rotation, `ward logs --reopen`) is read again from its start. Nothing is
//! armed while nobody follows, so an idle daemon stays idle.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use ward_api::{LogLine, timestamp};

use crate::events::SseBody;

/// The most lines one request may ask for.
pub(crate) const MAX_LINES: u32 = 5000;

/// How often a follower looks at the file.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// A comment this often tells a follower's connection is still wanted (a write to a
/// closed one ends the follower).
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The most bytes a follower reads at one look: a service writing faster than a browser
/// reads is shown in steps, not buffered whole.
const READ_MAX: u64 = 256 * 1024;

/// One line of the file as the API gives it; a line that does not have the writer's
/// shape (a file edited by hand) is shown whole, as `out`.
pub(crate) fn parse(line: &[u8]) -> LogLine {
    let text = String::from_utf8_lossy(line);
    let shaped = text
        .get(..timestamp::LEN)
        .zip(text.get(timestamp::LEN..))
        .and_then(|(at, rest)| {
            let rest = rest.strip_prefix(' ')?;
            let (stream, text) = rest.split_once(' ').unwrap_or((rest, ""));
            matches!(stream, "out" | "err" | "ward").then(|| LogLine {
                at: at.to_string(),
                stream: stream.to_string(),
                text: text.to_string(),
            })
        });
    shaped.unwrap_or_else(|| LogLine {
        at: String::new(),
        stream: "out".into(),
        text: text.into_owned(),
    })
}

/// The last `n` whole lines of `path` and the file's length when read; no file is no
/// lines (a unit that never wrote).
pub(crate) fn tail(path: &Path, n: usize) -> std::io::Result<(Vec<LogLine>, u64)> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    // Back from the end a block at a time, counting the newlines of each block once, until
    // n + 1 are behind `start`; then that stretch is read whole, once.
    let mut start = len;
    let mut newlines = 0;
    let mut block = Vec::new();
    while start > 0 && newlines <= n {
        let step = start.min(64 * 1024);
        start -= step;
        block.resize(step as usize, 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block)?;
        newlines += memchr::memchr_iter(b'\n', &block).count();
    }
    let mut buf = Vec::with_capacity((len - start) as usize);
    file.seek(SeekFrom::Start(start))?;
    file.take(len - start).read_to_end(&mut buf)?;
    // A partial last line (written as it is read) is left for a follower.
    let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
    let mut lines: Vec<&[u8]> = buf[..whole]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // Cut the first line when it began before the bytes read.
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(n);
    let end = len - (buf.len() - whole) as u64;
    Ok((lines[skip..].iter().map(|l| parse(l)).collect(), end))
}

/// An SSE body that sends `first` (the tail already read), then each line added to
/// `path` after byte `from`.
pub(crate) fn follow(path: PathBuf, first: Vec<LogLine>, from: u64) -> SseBody {
    let (tx, frames) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        if tx
            .send(Bytes::from_static(b": ward logs\n\n"))
            .await
            .is_err()
        {
            return;
        }
        for line in &first {
            if tx.send(frame(line)).await.is_err() {
                return;
            }
        }
        let mut at = Position {
            offset: from,
            inode: std::fs::metadata(&path).map(|m| m.ino()).ok(),
        };
        let mut since_sent = Duration::ZERO;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                _ = tx.closed() => return,
            }
            since_sent += FOLLOW_EVERY;
            let read_path = path.clone();
            let Ok(Ok((lines, next))) =
                tokio::task::spawn_blocking(move || read_new(&read_path, at)).await
            else {
                continue;
            };
            at = next;
            for line in &lines {
                if tx.send(frame(line)).await.is_err() {
                    return;
                }
                since_sent = Duration::ZERO;
            }
            if since_sent >= KEEPALIVE {
                if tx
                    .send(Bytes::from_static(b": still here\n\n"))
                    .await
                    .is_err()
                {
                    return;
                }
                since_sent = Duration::ZERO;
            }
        }
    });
    SseBody::new(frames)
}

/// Where a follower is in the file.
#[derive(Clone, Copy, Debug)]
struct Position {
    offset: u64,
    inode: Option<u64>,
}

/// The whole lines added since `at`, and where that leaves the follower.
fn read_new(path: &Path, at: Position) -> std::io::Result<(Vec<LogLine>, Position)> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        // Between a rotation's rename and the next write: nothing yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((
                Vec::new(),
                Position {
                    offset: 0,
                    inode: None,
                },
            ));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    // A new file at the path, or this one cut short: from its start.
    let offset = if at.inode != Some(meta.ino()) || meta.len() < at.offset {
        0
    } else {
        at.offset
    };
    let here = Position {
        offset,
        inode: Some(meta.ino()),
    };
    if meta.len() == offset {
        return Ok((Vec::new(), here));
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    file.take(READ_MAX).read_to_end(&mut buf)?;
    let Some(last) = memchr::memrchr(b'\n', &buf) else {
        // Only a partial line so far, or one longer than a read: shown once it ends, or
        // in pieces when it will not.
        if buf.len() as u64 == READ_MAX {
            return Ok((
                vec![parse(&buf)],
                Position {
                    offset: offset + READ_MAX,
                    ..here
                },
            ));
        }
        return Ok((Vec::new(), here));
    };
    let lines = buf[..last]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(parse)
        .collect();
    Ok((
        lines,
        Position {
            offset: offset + last as u64 + 1,
            ..here
        },
    ))
}

/// One SSE frame of a line.
fn frame(line: &LogLine) -> Bytes {
    let json = serde_json::to_string(line).unwrap_or_default();
    Bytes::from(format!("event: line\ndata: {json}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_of_the_writer_and_lines_of_anyone_else() {
        let l = parse(b"2026-11-26T10:32:40.123Z err <script>alert(1)</script>");
        assert_eq!(l.at, "2026-11-26T10:32:40.123Z");
        assert_eq!(l.stream, "err");
        assert_eq!(l.text, "<script>alert(1)</script>");
        let l = parse(b"2026-11-26T10:32:40.123Z ward started pid 7");
        assert_eq!(
            (l.stream.as_str(), l.text.as_str()),
            ("ward", "started pid 7")
        );
        let l = parse(b"2026-11-26T10:32:40.123Z out ");
        assert_eq!((l.stream.as_str(), l.text.as_str()), ("out", ""));
        let l = parse(b"edited by hand \xff");
        assert_eq!((l.at.as_str(), l.stream.as_str()), ("", "out"));
        assert_eq!(l.text, "edited by hand \u{fffd}");
    }

    #[test]
    fn the_tail_is_the_last_whole_lines_and_a_follower_goes_on_from_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        assert_eq!(tail(&path, 5).unwrap().0, Vec::new(), "no file, no lines");
        let mut f = std::fs::File::create(&path).unwrap();
        // Enough to need several blocks from the end.
        for i in 0..20_000 {
            writeln!(f, "2026-11-26T10:32:40.123Z out line {i}").unwrap();
        }
        write!(f, "2026-11-26T10:32:40.123Z out partial").unwrap();
        let (lines, end) = tail(&path, 3).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["line 19997", "line 19998", "line 19999"]);
        let (all, _) = tail(&path, 30_000).unwrap();
        assert_eq!(all.len(), 20_000);
        assert_eq!(all[0].text, "line 0");

        // The partial line is read once it ends; nothing twice.
        let at = Position {
            offset: end,
            inode: Some(std::fs::metadata(&path).unwrap().ino()),
        };
        let (none, at) = read_new(&path, at).unwrap();
        assert!(none.is_empty());
        writeln!(f, " now whole").unwrap();
        writeln!(f, "2026-11-26T10:32:41.000Z err next").unwrap();
        let (new, at) = read_new(&path, at).unwrap();
        let texts: Vec<&str> = new.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["partial now whole", "next"]);

        // Rotated: the new file is read from its start.
        std::fs::rename(&path, dir.path().join("web.log.1")).unwrap();
        std::fs::write(&path, "2026-11-26T10:32:42.000Z out fresh\n").unwrap();
        let (new, _) = read_new(&path, at).unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].text, "fresh");
    }
}
