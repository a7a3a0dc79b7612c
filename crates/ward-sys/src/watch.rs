//! Noticing that the daemon's own files went away (`rm -rf` of the state dir, a deleted
//! socket): inotify on the directories that hold them. It costs nothing while nothing
//! happens: no timer, no wake-up, one descriptor.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use tokio::io::unix::AsyncFd;

/// Something the daemon watches that went away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gone {
    /// A watched directory was deleted or moved.
    Dir(PathBuf),
    /// A watched file was deleted or moved out of its directory.
    File(PathBuf),
}

/// Watches of directories, and of some entries in each.
pub struct FileWatch {
    fd: AsyncFd<OwnedFd>,
    /// By watch descriptor: the directory and the names in it that matter.
    dirs: HashMap<i32, (PathBuf, Vec<OsString>)>,
}

impl FileWatch {
    /// An inotify instance with no watch yet.
    pub fn new() -> io::Result<FileWatch> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        // SAFETY: the AsyncFd owns this OwnedFd, which keeps the one inotify descriptor
        // open, and `as_raw_fd` always returns it, until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| e.into_parts().1)?;
        Ok(FileWatch {
            fd,
            dirs: HashMap::new(),
        })
    }

    /// Watches `dir` itself (deleted or moved) and the entries `names` in it (deleted or
    /// moved away). Watching a directory twice adds the names.
    pub fn watch(&mut self, dir: &Path, names: &[&OsStr]) -> io::Result<()> {
        let flags = WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::ONLYDIR;
        let wd = inotify::add_watch(self.fd.get_ref(), dir, flags)?;
        let entry = self
            .dirs
            .entry(wd)
            .or_insert_with(|| (dir.to_path_buf(), Vec::new()));
        entry.1.extend(names.iter().map(|n| n.to_os_string()));
        Ok(())
    }

    /// Drops every watch, for a fresh set after the directories were made again.
    pub fn clear(&mut self) {
        for wd in self.dirs.keys() {
            let _ = inotify::remove_watch(self.fd.get_ref(), *wd);
        }
        self.dirs.clear();
    }

    /// Waits until something watched goes away; returns all that did.
    pub async fn gone(&mut self) -> io::Result<Vec<Gone>> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut found = Vec::new();
            let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
            let mut reader = inotify::Reader::new(self.fd.get_ref(), &mut buf);
            loop {
                match reader.next() {
                    Ok(event) => {
                        let Some((dir, names)) = self.dirs.get(&event.wd()) else {
                            continue;
                        };
                        let flags = event.events();
                        if flags.intersects(ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF) {
                            found.push(Gone::Dir(dir.clone()));
                        } else if flags.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM)
                            && let Some(name) = event.file_name()
                        {
                            let name = OsStr::from_bytes(name.to_bytes());
                            if names.iter().any(|n| n == name) {
                                found.push(Gone::File(dir.join(name)));
                            }
                        }
                    }
                    Err(rustix::io::Errno::WOULDBLOCK) => {
                        guard.clear_ready();
                        break;
                    }
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if !found.is_empty() {
                return Ok(found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn deletions_of_watched_names_and_of_the_directory_are_seen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("state");
        std::fs::create_dir(&root).expect("state dir");
        for name in ["ward.sock", "other"] {
            std::fs::write(root.join(name), "x").expect("file");
        }
        let mut watch = FileWatch::new().expect("inotify");
        watch
            .watch(&root, &[OsStr::new("ward.sock")])
            .expect("watch");
        // An entry that does not matter is not reported; a watched one is.
        std::fs::remove_file(root.join("other")).expect("rm other");
        std::fs::remove_file(root.join("ward.sock")).expect("rm sock");
        assert_eq!(
            watch.gone().await.expect("events"),
            [Gone::File(root.join("ward.sock"))]
        );
        std::fs::remove_dir(&root).expect("rm dir");
        assert_eq!(
            watch.gone().await.expect("events"),
            [Gone::Dir(root.clone())]
        );
    }
}
