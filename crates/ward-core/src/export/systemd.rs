//! `ward export systemd`: one unit per unit of the config (`web.service`, or `web-0.service`
//! … for instances), a `.timer` beside each scheduled task, and, with `--self`, a unit
//! that runs ward itself. Every setting systemd has carries over; every other one becomes
//! a warning and a comment in the unit, never dropped in silence.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Exported, Notes};
use crate::config::{Condition, Config, Instance, KillMode, Readiness, RestartPolicy, ServiceType};

/// How to export.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// User units (`systemctl --user`): no `User=`/`Group=`, `WantedBy=default.target`.
    pub user: bool,
}

/// The units of every service of `config`.
pub fn export(config: &Config, options: &Options) -> Exported {
    let mut out = Exported::default();
    for inst in config.instances() {
        let (unit, mut warnings) = service_unit(config, &inst, options);
        out.files
            .push((format!("{}.service", unit_name(&inst)), unit));
        if let Some(schedule) = &inst.service.schedule {
            match super::calendar::on_calendar(&schedule.cron.text, schedule.timezone.as_deref())
            {
                Ok(calendar) => out.files.push((
                    format!("{}.timer", unit_name(&inst)),
                    timer(&inst, &calendar, schedule.catch_up, options),
                )),
                Err(why) => warnings.push(format!(
                    "[services.{}] schedule: `{}` cannot be an OnCalendar= ({why}); no timer written",
                    inst.service.name, schedule.cron.text
                )),
            }
        }
        out.warnings.extend(warnings);
    }
    out
}

/// `web`, or `web-2` for an instance.
pub fn unit_name(inst: &Instance) -> String {
    name_of(&inst.service, inst.index)
}

/// The name of instance `index` of `svc`.
fn name_of(svc: &crate::config::ServiceConfig, index: u32) -> String {
    if svc.instances == 1 {
        svc.name.clone()
    } else {
        format!("{}-{index}", svc.name)
    }
}

/// The units of every instance of `service`, from its own table: not every instance of
/// the config made again for each dependency.
fn units_of(config: &Config, service: &str) -> Vec<String> {
    config.services.get(service).map_or_else(Vec::new, |svc| {
        (0..svc.instances)
            .map(|i| format!("{}.service", name_of(svc, i)))
            .collect()
    })
}

fn service_unit(config: &Config, inst: &Instance, options: &Options) -> (String, Vec<String>) {
    let svc = &inst.service;
    let mut w = Notes::new(&svc.name, false);
    let mut unit = String::new();
    let mut service = String::new();
    let _ = writeln!(
        unit,
        "Description=ward service {} (exported from {})",
        unit_name(inst),
        config.path.display()
    );
    for dep in &svc.depends_on {
        let names = units_of(config, &dep.service).join(" ");
        let _ = writeln!(unit, "Requires={names}\nAfter={names}");
        match dep.condition {
            Condition::Healthy => w.not(
                "depends_on",
                &format!(
                    "systemd waits for {} to start, not to be healthy (it has no health checks)",
                    dep.service
                ),
            ),
            Condition::Started | Condition::Ready | Condition::Completed => {}
        }
    }
    let limit = svc.start_limit;
    let _ = writeln!(
        unit,
        "StartLimitBurst={}\nStartLimitIntervalSec={}",
        limit.burst,
        secs(limit.interval)
    );

    let kind = match (svc.kind, svc.ready) {
        (ServiceType::Oneshot, _) => "oneshot",
        (ServiceType::Simple, Readiness::Notify) => "notify",
        (ServiceType::Simple, Readiness::Started) => "simple",
        (ServiceType::Simple, Readiness::Running) => {
            w.not(
                "ready",
                "\"running\" (up for min_uptime) has no systemd equivalent; Type=simple",
            );
            "simple"
        }
        (ServiceType::Simple, Readiness::Healthy) => {
            w.not(
                "ready",
                "\"healthy\" needs a health check, which systemd has not; Type=simple",
            );
            "simple"
        }
    };
    let _ = writeln!(service, "Type={kind}");
    if svc.remain_after_exit {
        let _ = writeln!(service, "RemainAfterExit=yes");
    }
    let _ = writeln!(service, "ExecStart={}", exec(&svc.command));
    for (key, hook, argv) in [
        ("pre_start", "ExecStartPre", &svc.lifecycle.pre_start),
        ("post_start", "ExecStartPost", &svc.lifecycle.post_start),
        ("pre_stop", "ExecStop", &svc.lifecycle.pre_stop),
        ("post_stop", "ExecStopPost", &svc.lifecycle.post_stop),
    ] {
        if let Some(argv) = argv {
            let _ = writeln!(service, "{hook}={}", exec(argv));
            if key == "pre_stop" {
                w.comments.push(format!(
                    "pre_stop is ExecStop=: systemd runs it, then sends {} to what is left",
                    svc.stop_signal.name()
                ));
            }
        }
    }
    let _ = writeln!(
        service,
        "WorkingDirectory={}",
        quote_path(&svc.cwd.display().to_string())
    );
    let mut env = vec![
        ("WARD_SERVICE".to_string(), svc.name.clone()),
        ("WARD_INSTANCE".to_string(), inst.index.to_string()),
        ("WARD_UNIT".to_string(), inst.name.clone()),
    ];
    if let Some(base) = svc.port_base {
        env.push(("PORT".into(), (u32::from(base) + inst.index).to_string()));
    }
    for (k, v) in &svc.env {
        if v.contains("${") {
            w.not(
                &format!("env.{k}"),
                "systemd does not expand ${…} in Environment=; written as it is",
            );
        }
        env.push((k.clone(), v.clone()));
    }
    for (k, v) in &env {
        let _ = writeln!(service, "Environment={}", quote(&format!("{k}={v}"), false));
    }
    for file in &svc.env_file {
        let _ = writeln!(
            service,
            "EnvironmentFile={}",
            quote_path(&file.display().to_string())
        );
    }
    if !svc.inherit_env.is_empty() {
        let _ = writeln!(service, "PassEnvironment={}", svc.inherit_env.join(" "));
    }
    if !svc.secret_env.is_empty() {
        w.not(
            "secret_env",
            "systemd does not mask values in its logs; `systemctl show` prints Environment= to its readers (LoadCredential= keeps secrets out of it)",
        );
    }
    match (&svc.run_as, options.user) {
        (r, true) if r.user.is_some() || r.group.is_some() || r.groups.is_some() => w.not(
            "user",
            "a user unit runs as its user; User=, Group= left out",
        ),
        (r, _) => {
            if let Some(u) = &r.user {
                let _ = writeln!(service, "User={u}");
            }
            if let Some(g) = &r.group {
                let _ = writeln!(service, "Group={g}");
            }
            if let Some(gs) = &r.groups {
                let _ = writeln!(service, "SupplementaryGroups={}", gs.join(" "));
            }
        }
    }
    if let Some(caps) = svc.capabilities {
        let names = caps.to_names().join(" ");
        let _ = writeln!(
            service,
            "CapabilityBoundingSet={names}\nAmbientCapabilities={names}"
        );
    }
    if svc.private_tmp {
        let _ = writeln!(service, "PrivateTmp=yes");
    }
    let _ = writeln!(service, "UMask={:04o}", svc.umask);
    let _ = writeln!(
        service,
        "NoNewPrivileges={}",
        if svc.no_new_privs { "yes" } else { "no" }
    );
    let restart = match svc.restart {
        RestartPolicy::Always => "always",
        RestartPolicy::OnFailure => "on-failure",
        RestartPolicy::Never => "no",
    };
    let _ = writeln!(
        service,
        "Restart={restart}\nRestartSec={}",
        ms(svc.backoff.initial)
    );
    let codes = svc.success_exit_codes.codes();
    if !codes.is_empty() {
        let codes: Vec<String> = codes.iter().map(i32::to_string).collect();
        let _ = writeln!(service, "SuccessExitStatus={}", codes.join(" "));
    }
    let defaults = crate::config::Backoff::default();
    if (
        svc.backoff.max,
        svc.backoff.factor,
        svc.backoff.jitter,
        svc.backoff.reset_after,
    ) != (
        defaults.max,
        defaults.factor,
        defaults.jitter,
        defaults.reset_after,
    ) {
        w.not(
            "backoff",
            "systemd 252 restarts after a fixed RestartSec=; the growing delay (max, factor, jitter) is not carried over",
        );
    }
    if svc.min_uptime != Duration::from_secs(1) {
        w.not(
            "min_uptime",
            "systemd has no minimum run for a successful start",
        );
    }
    let _ = writeln!(
        service,
        "KillSignal={}\nTimeoutStopSec={}\nKillMode={}",
        svc.stop_signal.name(),
        ms(svc.stop_timeout),
        match svc.kill_mode {
            KillMode::Tree => "control-group",
            KillMode::Main => "process",
        }
    );
    if let Some(d) = svc.watchdog {
        let _ = writeln!(service, "WatchdogSec={}", ms(d));
    }
    if let Some(m) = svc.memory_max {
        let _ = writeln!(service, "MemoryMax={m}");
    }
    if let Some(c) = svc.cpu_max {
        let _ = writeln!(service, "CPUQuota={}%", (c * 100.0).round() as u64);
    }
    if let Some(p) = svc.pids_max {
        let _ = writeln!(service, "TasksMax={p}");
    }
    let r = &svc.rlimits;
    for (key, value) in [
        ("LimitCPU", r.cpu),
        ("LimitFSIZE", r.fsize),
        ("LimitNOFILE", r.nofile),
        ("LimitCORE", r.core),
        ("LimitNPROC", r.nproc),
        ("LimitMEMLOCK", r.memlock),
        ("LimitAS", r.r#as),
        ("LimitSTACK", r.stack),
    ] {
        if let Some(v) = value {
            let v = if v == u64::MAX {
                "infinity".to_string()
            } else {
                v.to_string()
            };
            let _ = writeln!(service, "{key}={v}");
        }
    }
    // What systemd has no place for.
    if svc.health.is_some() {
        w.not(
            "health",
            "systemd has no health checks (a WatchdogSec= needs the program's own WATCHDOG=1)",
        );
    }
    if !svc.recovery.is_empty() || svc.confidence_floor.is_some() {
        w.not(
            "recovery",
            "systemd restarts every crash alike; no strategy per crash class, no confidence floor",
        );
    }
    if svc.repair.is_some() {
        w.not("repair", "systemd has no repair step before a restart");
    }
    if svc.on_failure.is_some() {
        w.not(
            "on_failure",
            "systemd's OnFailure= starts a unit, not a command; write one and name it there",
        );
    }
    if !svc.data.is_empty() {
        w.not("data", "systemd takes no snapshots of a service's data");
    }
    if svc.pidfile.is_some() {
        w.not(
            "pidfile",
            "systemd keeps the main PID itself (systemctl show -p MainPID)",
        );
    }
    if svc.trust_path {
        w.not(
            "trust_path",
            "systemd does not judge who may replace a program",
        );
    }
    if svc.hook_timeout != Duration::from_secs(30) {
        w.not(
            "hook_timeout",
            "systemd's ExecStartPre= and the like take TimeoutStartSec= and TimeoutStopSec=",
        );
    }
    if let Some(s) = &svc.schedule
        && s.overlap != crate::schedule::Overlap::Skip
    {
        w.not(
            "overlap",
            "a systemd timer never starts a run while one runs (overlap = \"skip\")",
        );
    }

    let mut text = String::from("# Written by `ward export systemd`.\n");
    for c in &w.comments {
        let _ = writeln!(text, "# {c}");
    }
    let _ = write!(text, "\n[Unit]\n{unit}\n[Service]\n{service}");
    let scheduled = svc.schedule.is_some();
    if svc.autostart && !scheduled {
        let target = if options.user {
            "default.target"
        } else {
            "multi-user.target"
        };
        let _ = write!(text, "\n[Install]\nWantedBy={target}\n");
    } else if scheduled {
        let _ = writeln!(text, "\n# Started by {}.timer.", unit_name(inst));
    } else {
        let _ = writeln!(
            text,
            "\n# autostart = false: not enabled; `systemctl start` starts it."
        );
    }
    (text, w.lines)
}

fn timer(inst: &Instance, calendar: &str, catch_up: bool, options: &Options) -> String {
    let _ = options;
    format!(
        "# Written by `ward export systemd`.\n\n[Unit]\nDescription=schedule of {name} ({cron})\n\n\
         [Timer]\nOnCalendar={calendar}\nPersistent={persistent}\nUnit={name}.service\n\n\
         [Install]\nWantedBy=timers.target\n",
        name = unit_name(inst),
        cron = inst
            .service
            .schedule
            .as_ref()
            .map_or("", |s| s.cron.text.as_str()),
        persistent = if catch_up { "yes" } else { "no" },
    )
}

/// An argv as systemd reads a command line: each word quoted, `${NAME}` kept for systemd
/// to expand from the environment (as ward would), every other `$` and `%` escaped.
fn exec(argv: &[String]) -> String {
    argv.iter()
        .map(|a| quote(a, true))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A word in double quotes, with `\`, `"` and `%` escaped; in a command, `$` too, but for
/// the `${NAME}` references ward itself would expand.
fn quote(word: &str, command: bool) -> String {
    let escape = |text: &str, out: &mut String| {
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '%' => out.push_str("%%"),
                '$' if command => out.push_str("$$"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
    };
    let mut out = String::from("\"");
    if command {
        for part in crate::expand::parts(word) {
            match part {
                crate::expand::Part::Text(t) => escape(t, &mut out),
                crate::expand::Part::Var(name) => {
                    let _ = write!(out, "${{{name}}}");
                }
            }
        }
    } else {
        escape(word, &mut out);
    }
    out.push('"');
    out
}

/// A path for `WorkingDirectory=` and `EnvironmentFile=`: `%` escaped.
fn quote_path(path: &str) -> String {
    path.replace('%', "%%")
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// `ward.service`: the unit that runs ward (`exe`) on `config`. `Type=notify`: `ward up`
/// says `READY=1` once the services it starts by itself are started. `KillMode=mixed`:
/// systemd's SIGTERM goes to ward alone, which stops the services in dependency order
/// within `stop` (the longest chain of their `stop_timeout`s); past it and a margin,
/// systemd kills what is left. `Delegate=yes` gives ward the cgroup subtree it puts the
/// services in.
pub fn own_unit(exe: &str, config: &str, stop: Duration, user: bool) -> Exported {
    let target = if user {
        "default.target"
    } else {
        "multi-user.target"
    };
    let quoted = |s: &str| quote(s, true);
    let text = format!(
        "# Written by `ward export systemd --self`.\n\n[Unit]\n\
         Description=ward, the process supervisor ({config})\n\
         After=network.target\n\n[Service]\nType=notify\nNotifyAccess=main\n\
         ExecStart={exe} -c {cfg} up\nExecReload={exe} -c {cfg} reload\n\
         KillMode=mixed\nTimeoutStopSec={stop}\nRestart=on-failure\nDelegate=yes\n\n\
         [Install]\nWantedBy={target}\n",
        exe = quoted(exe),
        cfg = quoted(config),
        stop = secs(stop + Duration::from_secs(10)),
    );
    Exported {
        files: vec![("ward.service".into(), text)],
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_words_keep_references_and_escape_the_rest() {
        assert_eq!(
            exec(&[
                "/bin/app".into(),
                "--port=${PORT}".into(),
                "50% $5 $$".into()
            ]),
            r#""/bin/app" "--port=${PORT}" "50%% $$5 $$$$""#
        );
        // ward's literal `${` stays literal for systemd too.
        assert_eq!(exec(&["$${HOME}".into()]), r#""$${HOME}""#);
        assert_eq!(exec(&["say \"hi\"\\".into()]), r#""say \"hi\"\\""#);
        assert_eq!(quote("A=50% $x", false), r#""A=50%% $x""#);
    }

    #[test]
    fn instances_get_units_of_their_own_and_dependents_require_them_all() {
        let config = crate::config::parse(
            std::path::Path::new("/etc/ward/ward.toml"),
            "[services.db]\ncommand = \"/bin/db\"\ninstances = 2\n\
             [services.web]\ncommand = \"/bin/web\"\ndepends_on = [\"db\"]\n",
        )
        .unwrap();
        let out = export(&config, &Options::default());
        let names: Vec<&str> = out.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["db-0.service", "db-1.service", "web.service"]);
        assert!(
            out.files[2]
                .1
                .contains("Requires=db-0.service db-1.service\nAfter=db-0.service db-1.service")
        );
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }
}
