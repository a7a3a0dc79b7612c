//! One module per group of subcommands.

mod audit;
mod backup;
mod control;
mod doctor;
mod export;
mod follow;
mod health;
mod history;
mod import;
mod log_lines;
mod logs;
mod pid;
mod run;
mod run_audit;
mod run_tree;
mod status;
mod top;
mod up;
mod why;

use std::time::Duration;

use ward_core::timeouts;

use crate::cli::{Cli, Command};
use crate::client::{self, Timeout};
use crate::exit::{Failure, OK};
use crate::out::{errln, outln};

/// Runs the subcommand and returns the exit code.
pub fn run(cli: Cli) -> Result<i32, Failure> {
    let path = client::config_path(cli.config.as_deref());
    // `--timeout`, or the command's own default (see `ward_core::timeouts`).
    let within = |default: Duration| cli.timeout.unwrap_or(Timeout::After(default));
    let answer = within(timeouts::ANSWER);
    match cli.command {
        Command::Up { detach, init } => up::up(&path, detach, init),
        Command::Check => {
            let config = client::load(&path)?;
            ward_daemon::check_dirs(&config).map_err(|e| Failure::Usage(e.to_string()))?;
            ward_daemon::check_programs(&config).map_err(|e| Failure::Usage(e.to_string()))?;
            ward_daemon::check_access(&config).map_err(|e| Failure::Usage(e.to_string()))?;
            let units = config.instances().len();
            limit_warnings(&config);
            command_warnings(&config);
            outln!(
                "{}: ok ({} services, {units} units)",
                path.display(),
                config.services.len()
            )?;
            Ok(OK)
        }
        Command::Health { ready, live: _ } => {
            health::health(&client::locate(&path)?, ready, answer)
        }
        Command::Status { names, json } => {
            status::status(&client::locate(&path)?, &names, json, answer)
        }
        Command::Start(t) => control::action(&client::locate(&path)?, "start", &t, answer),
        Command::Stop(t) => waits_for_stops(&path, "stop", &t, cli.timeout),
        Command::Restart(t) => waits_for_stops(&path, "restart", &t, cli.timeout),
        Command::Signal { name, signal } => {
            control::signal(&client::locate(&path)?, name, signal, answer)
        }
        Command::Logs { reopen: true, .. } => logs::reopen(&client::locate(&path)?, answer),
        Command::Logs {
            names,
            follow,
            lines,
            raw,
            since,
            until,
            grep,
            stderr,
            ..
        } => {
            let terminal = !raw && std::io::IsTerminal::is_terminal(&std::io::stdout());
            let stamp = |flag: &str, ago: Option<String>| {
                ago.map(|d| {
                    let ms = history::since_to_ms(&d)
                        .map_err(|_| {
                            Failure::Usage(format!(
                                "invalid duration `{d}` for {flag}\n  hint: write a number and a unit, such as 30m, 1h or 2d"
                            ))
                        })?;
                    Ok::<_, Failure>(ward_api::timestamp::string(
                        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
                    ))
                })
                .transpose()
            };
            logs::logs(
                &client::load(&path)?,
                logs::LogArgs {
                    names,
                    follow,
                    lines,
                    escape: terminal,
                    color: terminal,
                    filter: log_lines::Filter {
                        since: stamp("--since", since)?,
                        until: stamp("--until", until)?,
                        grep,
                        stderr_only: stderr,
                    },
                },
            )
        }
        Command::Top => top::top(&path, || client::load(&path)),
        Command::Export { to } => export::export(&path, to),
        Command::Import { from } => import::import(from),
        Command::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut cmd, "ward", &mut out);
            std::io::Write::flush(&mut out).map_err(Failure::Output)?;
            Ok(OK)
        }
        Command::Man => {
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(Failure::Output)?;
            Ok(OK)
        }
        Command::Reload { json } => control::reload(&client::locate(&path)?, json, answer),
        Command::Down => {
            let limit = within(timeouts::shutdown(client::load(&path).ok().as_ref()));
            control::down(&client::locate(&path)?, limit)
        }
        Command::Pid(cmd) => pid::run(cmd),
        Command::Why { name, run, json } => {
            // min_uptime decides whether a recovery held; the config may be mid-edit.
            let min_uptime = client::load(&path)
                .ok()
                .and_then(|c| {
                    c.instances()
                        .into_iter()
                        .find(|i| i.name == name)
                        .map(|i| i.service.min_uptime)
                })
                .unwrap_or(std::time::Duration::from_secs(1));
            why::why(
                &client::locate(&path)?,
                min_uptime,
                &name,
                run,
                json,
                answer,
            )
        }
        Command::Backup => backup::backup(&client::locate(&path)?, within(timeouts::BACKUP)),
        Command::Restore { file } => backup::restore(&client::locate(&path)?, &file),
        Command::Doctor { repair } => {
            doctor::doctor(&path, &client::locate(&path)?, repair, answer)
        }
        Command::History { name, since, json } => history::history(
            &client::locate(&path)?,
            name.as_deref(),
            since.as_deref(),
            json,
        ),
        Command::Events {
            since,
            follow: true,
            services,
            kinds,
            json,
        } => follow::follow(
            &client::locate(&path)?,
            follow::Follow {
                since,
                json,
                services,
                kinds,
            },
        ),
        Command::Events { since, json, .. } => history::events(
            &client::locate(&path)?,
            since.as_deref().unwrap_or("1h"),
            json,
        ),
        Command::Run {
            kill_after,
            limits,
            memory_max,
            user,
            env,
            command,
        } => run::run(run::RunArgs {
            // The trail of the config here, when there is one.
            state_dir: path
                .is_file()
                .then(|| client::locate(&path).ok())
                .flatten()
                .map(|s| s.state_dir),
            timeout: cli.timeout,
            kill_after,
            limits,
            memory_max,
            user,
            env,
            command,
        }),
        Command::Audit {
            check: Some(crate::cli::AuditCommand::Verify),
            ..
        } => audit::verify(&client::locate(&path)?),
        Command::Audit {
            check: None,
            since,
            json,
        } => audit::list(&client::locate(&path)?, since.as_deref(), json),
    }
}

/// `ward stop` and `ward restart`: they are answered once their units are down (the stop
/// half, for a restart), so by default they wait as long as the config's stop timeouts
/// allow.
fn waits_for_stops(
    path: &std::path::Path,
    verb: &str,
    targets: &crate::cli::Targets,
    given: Option<Timeout>,
) -> Result<i32, Failure> {
    let timeout = given.unwrap_or_else(|| {
        let config = client::load(path).ok();
        Timeout::After(timeouts::stop(config.as_ref(), &targets.names, targets.all))
    });
    control::action(&client::locate(path)?, verb, targets, timeout)
}

/// `ward check` says which programs cannot run as they stand: a `command` whose program is
/// a directory would fail at every start with the kernel's "permission denied". A program
/// that is missing is not named: it may be installed before `ward up`.
fn command_warnings(config: &ward_core::config::Config) {
    for svc in config.services.values() {
        let Some(program) = svc.command.first().filter(|p| p.contains('/')) else {
            continue;
        };
        // A relative path is looked up from the service's `cwd`, as the daemon's exec does.
        let path = svc.cwd.join(program);
        if path.is_dir() {
            errln!(
                "warning: [services.{}] command: {} is a directory, not a program",
                svc.name,
                path.display()
            );
        }
    }
}

/// `ward check` says which limits this machine cannot enforce: the config is valid, but a
/// limit that does nothing must not pass in silence.
fn limit_warnings(config: &ward_core::config::Config) {
    use ward_core::config::CgroupMode;
    let (memory, pids, cpu) = if config.supervisor.cgroup == CgroupMode::Off {
        (false, false, false)
    } else {
        ward_sys::controllers::Controllers::probe()
    };
    let off = if config.supervisor.cgroup == CgroupMode::Off {
        ", cgroup = \"off\""
    } else {
        ""
    };
    for svc in config.services.values() {
        if svc.cpu_max.is_some() && !cpu {
            errln!(
                "warning: [services.{}] cpu_max cannot be enforced on this machine (no cpu cgroup controller{off})",
                svc.name
            );
        }
        if svc.memory_max.is_some() && !memory {
            errln!(
                "warning: [services.{}] memory_max cannot be enforced on this machine (no memory cgroup controller{})",
                svc.name,
                if config.supervisor.cgroup == CgroupMode::Off {
                    ", cgroup = \"off\""
                } else {
                    ""
                }
            );
        }
        if svc.pids_max.is_some() && !pids {
            errln!(
                "warning: [services.{}] pids_max cannot be enforced on this machine (no pids cgroup controller{})",
                svc.name,
                if config.supervisor.cgroup == CgroupMode::Off {
                    ", cgroup = \"off\""
                } else {
                    ""
                }
            );
        }
    }
}
