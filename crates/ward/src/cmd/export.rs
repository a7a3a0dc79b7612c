//! `ward export systemd [-o DIR] [--user] [--self]`: the config as another engine's
//! files. What does not carry over is printed on stderr as a warning, and written as a
//! comment in the file it concerns.

use std::path::Path;

use ward_core::export::{Exported, kubernetes, systemd};

use crate::cli::{ExportTarget, KubeLayout};
use crate::client;
use crate::exit::{Failure, OK};
use crate::out::outln;

pub fn export(path: &Path, to: ExportTarget) -> Result<i32, Failure> {
    // The file as written: `env_file`s stay files the other engine reads.
    let text = client::read(path)?;
    let config = ward_core::config::parse(path, &text).map_err(|errors| {
        Failure::Usage(format!(
            "{errors}\n{}: fix it before exporting",
            path.display()
        ))
    })?;
    let (exported, output, separator) = match to {
        ExportTarget::Systemd {
            output,
            user,
            itself,
        } => {
            let exported = if itself {
                own_unit(path, &config, user)?
            } else {
                systemd::export(&config, &systemd::Options { user })
            };
            (exported, output, None)
        }
        ExportTarget::Kubernetes {
            image,
            layout,
            output,
        } => {
            let layout = match layout {
                KubeLayout::Deployments => kubernetes::Layout::Deployments,
                KubeLayout::Pod => kubernetes::Layout::Pod,
            };
            // On stdout, one stream of YAML documents for `kubectl apply -f -`.
            (
                kubernetes::export(&config, &image, layout),
                output,
                Some("---"),
            )
        }
    };
    for w in &exported.warnings {
        eprintln!("warning: {w}");
    }
    match output {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::Failed(format!("cannot create {}: {e}", dir.display())))?;
            for (name, content) in &exported.files {
                let file = dir.join(name);
                std::fs::write(&file, content).map_err(|e| {
                    Failure::Failed(format!("cannot write {}: {e}", file.display()))
                })?;
                outln!("{}", file.display())?;
            }
        }
        None => {
            for (name, content) in &exported.files {
                match separator {
                    Some(sep) => outln!("{sep}\n# {name}\n{content}")?,
                    None => outln!("### {name}\n{content}")?,
                }
            }
        }
    }
    Ok(OK)
}

/// `ward.service`: ward itself on this config, telling systemd when it is ready.
fn own_unit(
    path: &Path,
    config: &ward_core::config::Config,
    user: bool,
) -> Result<Exported, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Failed(format!("cannot find ward's own program: {e}")))?;
    let config_path = std::fs::canonicalize(path)
        .map_err(|e| Failure::Failed(format!("{}: {e}", path.display())))?;
    let stop = ward_core::timeouts::shutdown(Some(config));
    Ok(systemd::own_unit(
        &exe.display().to_string(),
        &config_path.display().to_string(),
        stop,
        user,
    ))
}
