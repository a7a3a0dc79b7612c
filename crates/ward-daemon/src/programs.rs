//! Which programs ward will run: each service's command, hooks and probe are looked up as
//! the spawn will look them up (on the service's `PATH`, or from its `cwd`), and refused
//! when someone other than their owner and root could replace them on the way
//! (`ward_core::dirs::judge_program`). Checked when a config is loaded: by `ward up`, a
//! reload and `ward check`. A program that is not there yet is not judged: it may be
//! installed before it runs, and a spawn names it if it is not. One that is not an
//! executable file is not refused here either: its spawn fails with the precise reason,
//! and a `chmod +x` mends it without a reload.

use std::collections::HashMap;
use std::path::PathBuf;

use ward_core::config::{Config, Probe, ServiceConfig};
use ward_core::dirs::ProgramProblem;

/// One program that ward refuses to run, and where the config names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The service.
    pub service: String,
    /// The key (`command`, `repair`, `on_failure`, a lifecycle hook, `health`).
    pub key: &'static str,
    /// The program found.
    pub program: PathBuf,
    /// Why.
    pub problem: ProgramProblem,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[services.{}] {}: will not run {}: {}\n  hint: let only its owner and root write \
             the program and the directories above it (`chmod go-w PATH`), or set \
             `trust_path = true` in [services.{}] to run it anyway",
            self.service,
            self.key,
            self.program.display(),
            self.problem,
            self.service
        )
    }
}

/// The programs a service runs, by the key that names each.
fn programs(svc: &ServiceConfig) -> Vec<(&'static str, &str)> {
    let probe = svc.health.as_ref().and_then(|h| match &h.probe {
        Probe::Command(argv) => Some(argv),
        Probe::Tcp(_) | Probe::Http(_) => None,
    });
    [
        ("command", Some(&svc.command)),
        ("repair", svc.repair.as_ref()),
        ("on_failure", svc.on_failure.as_ref()),
        ("pre_start", svc.lifecycle.pre_start.as_ref()),
        ("post_start", svc.lifecycle.post_start.as_ref()),
        ("pre_stop", svc.lifecycle.pre_stop.as_ref()),
        ("post_stop", svc.lifecycle.post_stop.as_ref()),
        ("health", probe),
    ]
    .into_iter()
    .filter_map(|(key, argv)| Some((key, argv?.first()?.as_str())))
    .collect()
}

/// Every program of `config` that ward refuses to run, in config order. Each program is
/// judged once, however many services run it (thousands may share one `/usr/bin/python3`).
pub fn refused(config: &Config) -> Vec<Refused> {
    let mut judged: HashMap<PathBuf, Option<ProgramProblem>> = HashMap::new();
    let mut out = Vec::new();
    for svc in config.services.values().filter(|s| !s.trust_path) {
        // Without a PATH of the service's own, the lookup uses the one it starts with.
        let path_env: Vec<(String, String)> = svc
            .env
            .get("PATH")
            .map(|p| vec![("PATH".to_string(), p.clone())])
            .unwrap_or_default();
        for (key, program) in programs(svc) {
            // As the spawn finds it: a name on PATH, a relative path from the cwd.
            let Ok(found) = ward_sys::spawn::resolve_program(program, &path_env) else {
                continue;
            };
            let found = svc.cwd.join(found);
            let problem = judged.entry(found.clone()).or_insert_with(|| {
                let steps = ward_sys::spawn::program_steps(&found).ok()?;
                match ward_core::dirs::judge_program(&steps) {
                    Err(problem @ ProgramProblem::Writable { .. }) => Some(problem),
                    _ => None,
                }
            });
            if let Some(problem) = problem {
                out.push(Refused {
                    service: svc.name.clone(),
                    key,
                    program: found,
                    problem: problem.clone(),
                });
            }
        }
    }
    out
}

/// All of them in one message, for a refusal.
pub fn describe(refused: &[Refused]) -> String {
    refused
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
