//! `ward import supervisord FILE`, `ward import pm2 FILE` and `ward import procfile FILE
//! [--env F]`: another
//! supervisor's config as a `ward.toml`. The files are read here (supervisord's
//! `[include]` globs too); the mapping is `ward_core::import`'s.

use std::path::{Path, PathBuf};

use ward_core::import::{Imported, pm2, procfile, supervisord};

use crate::cli::ImportSource;
use crate::exit::{Failure, OK};
use crate::out::outln;

pub fn import(from: ImportSource) -> Result<i32, Failure> {
    let (imported, output) = match from {
        ImportSource::Procfile { file, env, output } => {
            let text = read(&file)?;
            let imported = procfile::import(&text, env.as_deref())
                .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
            (imported, output)
        }
        ImportSource::Supervisord { file, output } => (supervisord_files(&file)?, output),
        ImportSource::Pm2 { file, output } => {
            let text = read(&file)?;
            let js = file
                .extension()
                .is_some_and(|e| e == "js" || e == "cjs" || e == "mjs");
            let imported = pm2::import(&text, js)
                .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
            (imported, output)
        }
    };
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    match output {
        Some(path) => {
            // Never over a file that is there: it may be the config in use.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, imported.toml.as_bytes()))
                .map_err(|e| {
                    Failure::Failed(format!(
                        "cannot write {}: {e}\n  hint: name a file that does not exist yet",
                        path.display()
                    ))
                })?;
            outln!("{}", path.display())?;
        }
        None => outln!("{}", imported.toml.trim_end())?,
    }
    Ok(OK)
}

/// supervisord.conf and, recursively, the files its `[include]` sections name (globs
/// relative to the including file, as supervisord reads them), each once.
fn supervisord_files(main: &Path) -> Result<Imported, Failure> {
    let mut sections = Vec::new();
    let mut todo = vec![main.to_path_buf()];
    let mut seen: Vec<PathBuf> = Vec::new();
    while let Some(file) = todo.pop() {
        if seen.contains(&file) {
            continue;
        }
        seen.push(file.clone());
        let text = read(&file)?;
        let found = supervisord::sections(&file, &text).map_err(Failure::Usage)?;
        for pattern in supervisord::includes(&found) {
            let pattern = pattern.display().to_string();
            let mut matched: Vec<PathBuf> = glob::glob(&pattern)
                .map_err(|e| Failure::Usage(format!("[include] files: `{pattern}`: {e}")))?
                .filter_map(Result::ok)
                .collect();
            matched.sort();
            // Read in order: the stack takes the last first.
            todo.extend(matched.into_iter().rev());
        }
        sections.extend(found);
    }
    supervisord::import(&sections).map_err(|e| Failure::Usage(format!("{}: {e}", main.display())))
}

/// A file to import, read as ward reads its own config: a regular file of at most 16 MiB,
/// so that a FIFO named by mistake is refused instead of blocking.
fn read(file: &Path) -> Result<String, Failure> {
    ward_sys::config_file::read(file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {}", file.display(), e.reason())))
}
