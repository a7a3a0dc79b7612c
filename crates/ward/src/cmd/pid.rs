//! `ward pid check FILE…` and `ward pid clean DIR [--dry-run]`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use ward_sys::pidfile::{self, Class, Format, Verdict};

use crate::cli::PidCommand;
use crate::exit::{FAILED, Failure, OK};
use crate::out::{self, errln, outln};

/// One file's verdict, as `--json` prints it.
#[derive(Serialize)]
struct Report {
    file: String,
    verdict: &'static str,
    reason: Option<String>,
    pid: Option<u32>,
    service: Option<String>,
    format: Option<&'static str>,
    note: Option<&'static str>,
    /// `clean` only: whether the file was (or, with `--dry-run`, would be) removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    removed: Option<bool>,
}

pub fn run(cmd: PidCommand) -> Result<i32, Failure> {
    match cmd {
        PidCommand::Check { files, json } => {
            let reports: Vec<Report> = files
                .iter()
                .map(|f| report(f, &pidfile::check(f), None))
                .collect();
            print(&reports, json)?;
            Ok(if reports.iter().all(|r| r.verdict == "valid") {
                OK
            } else {
                FAILED
            })
        }
        PidCommand::Clean { dir, dry_run, json } => clean(&dir, dry_run, json),
    }
}

fn clean(dir: &Path, dry_run: bool, json: bool) -> Result<i32, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::Usage(format!("cannot read directory {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pid") && p.is_file())
        .collect();
    files.sort();
    let mut reports = Vec::new();
    let mut failed = false;
    let mut seen = 0;
    for file in files {
        let verdict = if dry_run {
            let v = pidfile::check(&file);
            let stale = matches!(v.class, Class::Stale(_));
            Ok((v, stale))
        } else {
            pidfile::remove_if_stale(&file)
        };
        match verdict {
            Ok((v, removed)) => reports.push(report(&file, &v, Some(removed))),
            Err(e) => {
                failed = true;
                errln!("ward: cannot remove {}: {e}", file.display());
            }
        }
        seen += 1;
    }
    if json {
        print(&reports, true)?;
    } else {
        for r in &reports {
            let action = match (r.removed, dry_run) {
                (Some(true), true) => "would remove",
                (Some(true), false) => "removed",
                _ => "kept",
            };
            outln!("{action} {}: {}", r.file, words(r))?;
        }
        if seen == 0 {
            outln!("no .pid files in {}", dir.display())?;
        }
    }
    Ok(if failed { FAILED } else { OK })
}

fn report(file: &Path, v: &Verdict, removed: Option<bool>) -> Report {
    let reason = match &v.class {
        Class::Stale(r) => Some(r.as_str().to_string()),
        Class::Corrupted(why) => Some(why.clone()),
        _ => None,
    };
    Report {
        file: file.display().to_string(),
        verdict: v.class.as_str(),
        reason,
        pid: v.pid,
        service: v.record.as_ref().map(|r| r.service.clone()),
        format: v.format.map(|f| match f {
            Format::Ward => "ward",
            Format::Plain => "plain",
        }),
        note: (v.format == Some(Format::Plain))
            .then_some("a plain PID file holds no start time: a reused PID cannot be told apart"),
        removed,
    }
}

/// `valid (pid 42, service web)`, `stale: pid reused (start time differs) (pid 42)`.
fn words(r: &Report) -> String {
    let mut s = r.verdict.replace('-', " ");
    if let Some(reason) = &r.reason {
        s.push_str(": ");
        s.push_str(reason);
    }
    let mut about = Vec::new();
    if let Some(pid) = r.pid {
        about.push(format!("pid {pid}"));
    }
    if let Some(service) = &r.service {
        about.push(format!("service {service}"));
    }
    if !about.is_empty() {
        s.push_str(&format!(" ({})", about.join(", ")));
    }
    if let Some(note) = r.note {
        s.push_str(&format!("; {note}"));
    }
    s
}

fn print(reports: &[Report], json: bool) -> Result<(), Failure> {
    if json {
        return out::json(reports);
    }
    for r in reports {
        outln!("{}: {}", r.file, words(r))?;
    }
    Ok(())
}
