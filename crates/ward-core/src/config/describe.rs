//! A service's settings as ward reads them, one `key = value` a line in the config's own
//! notation, defaults filled in and secrets masked: what `GET /v1/config` (the dashboard's
//! config panel) shows. Every field of [`ServiceConfig`] is destructured below, so a key
//! added to the model and not shown here does not compile.

use std::time::Duration;

use super::model::{Condition, Probe, ServiceConfig, ServiceType};
use super::service::{DAEMON_EXIT, KILL_MODES, RESTART};
use super::toml_text::{string as quote, strings as words};
use crate::duration::format_duration;
use crate::secrets::{Redactor, is_secret};

/// The name the config gives `value` in the table its key is read with.
fn named<T: PartialEq + Copy>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("", |(name, _)| name)
}

/// What a secret's value is shown as.
pub const MASK: &str = "********";

/// The settings of `s`, as (key, value) pairs in the order docs/config.md lists them.
/// Values of secret variables are [`MASK`]; a secret's value inside any other setting
/// (an argument that expanded `${DATABASE_URL}`) is masked there too.
pub fn describe(s: &ServiceConfig) -> Vec<(String, String)> {
    let ServiceConfig {
        name: _,
        command,
        shell,
        cwd,
        env,
        env_file,
        inherit_env,
        secret_env,
        autostart,
        trust_path,
        umask,
        no_new_privs,
        run_as,
        credentials: _,
        capabilities,
        private_tmp,
        kind,
        success_exit_codes,
        remain_after_exit,
        env_file_refs: _,
        schedule,
        instances,
        port_base,
        restart,
        backoff,
        min_uptime,
        start_limit,
        stop_signal,
        stop_timeout,
        kill_mode,
        pidfile,
        on_daemon_exit,
        rlimits,
        memory_max,
        pids_max,
        cpu_max,
        repair,
        on_failure,
        lifecycle,
        hook_timeout,
        recovery,
        data,
        data_snapshots,
        confidence_floor,
        depends_on,
        ready,
        health,
        watchdog,
    } = s;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |key: &str, value: String| out.push((key.to_string(), value));
    let d = |d: &Duration| quote(&format_duration(*d));
    put("command", words(command));
    put("shell", shell.to_string());
    put("type", quote(kind.as_str()));
    if *kind == ServiceType::Oneshot {
        put(
            "success_exit_codes",
            format!("{:?}", success_exit_codes.codes()),
        );
        put("remain_after_exit", remain_after_exit.to_string());
    }
    if let Some(sc) = schedule {
        put("schedule", quote(&sc.cron.text));
        if let Some(tz) = &sc.timezone {
            put("timezone", quote(tz));
        }
        put("overlap", quote(sc.overlap.as_str()));
        put("catch_up", sc.catch_up.to_string());
    }
    put("cwd", quote(&cwd.display().to_string()));
    put("autostart", autostart.to_string());
    put("instances", instances.to_string());
    if let Some(p) = port_base {
        put("port_base", p.to_string());
    }
    for (k, v) in env {
        let shown = if is_secret(k, secret_env) {
            MASK.to_string()
        } else {
            quote(v)
        };
        put(&format!("env.{k}"), shown);
    }
    if !env_file.is_empty() {
        let files: Vec<String> = env_file.iter().map(|p| p.display().to_string()).collect();
        put("env_file", words(&files));
    }
    if !inherit_env.is_empty() {
        put("inherit_env", words(inherit_env));
    }
    if !secret_env.is_empty() {
        put("secret_env", words(secret_env));
    }
    put("restart", quote(named(RESTART, *restart)));
    put(
        "backoff",
        format!(
            "{{ initial = {}, max = {}, factor = {}, jitter = {}, reset_after = {} }}",
            d(&backoff.initial),
            d(&backoff.max),
            backoff.factor,
            backoff.jitter,
            d(&backoff.reset_after)
        ),
    );
    put("min_uptime", d(min_uptime));
    put(
        "start_limit",
        format!(
            "{{ burst = {}, interval = {} }}",
            start_limit.burst,
            d(&start_limit.interval)
        ),
    );
    put("stop_signal", quote(&stop_signal.to_string()));
    put("stop_timeout", d(stop_timeout));
    put("kill_mode", quote(named(KILL_MODES, *kill_mode)));
    put("on_daemon_exit", quote(named(DAEMON_EXIT, *on_daemon_exit)));
    if let Some(p) = pidfile {
        put("pidfile", quote(&p.display().to_string()));
    }
    if !depends_on.is_empty() {
        let edges: Vec<String> = depends_on
            .iter()
            .map(|dep| match dep.condition {
                Condition::Started => dep.service.clone(),
                c => format!("{} = {}", dep.service, quote(c.as_str())),
            })
            .collect();
        put("depends_on", format!("[{}]", edges.join(", ")));
    }
    put("ready", quote(ready.as_str()));
    if let Some(h) = health {
        let probe = match &h.probe {
            Probe::Command(argv) => format!("command = {}", words(argv)),
            Probe::Tcp(addr) => format!("tcp = {}", quote(addr)),
            Probe::Http(p) => format!("http = {}", quote(&p.url)),
        };
        put(
            "health",
            format!(
                "{{ {probe}, interval = {}, timeout = {}, retries = {}, start_period = {} }}",
                d(&h.interval),
                d(&h.timeout),
                h.retries,
                d(&h.start_period)
            ),
        );
    }
    if let Some(w) = watchdog {
        put("watchdog", d(w));
    }
    for (key, hook) in [
        ("pre_start", &lifecycle.pre_start),
        ("post_start", &lifecycle.post_start),
        ("pre_stop", &lifecycle.pre_stop),
        ("post_stop", &lifecycle.post_stop),
        ("repair", repair),
        ("on_failure", on_failure),
    ] {
        if let Some(argv) = hook {
            put(key, words(argv));
        }
    }
    put("hook_timeout", d(hook_timeout));
    for (class, strategy) in recovery {
        put(&format!("recovery.{class}"), quote(strategy.as_str()));
    }
    if let Some(f) = confidence_floor {
        put("confidence_floor", f.to_string());
    }
    if !data.is_empty() {
        let paths: Vec<String> = data.iter().map(|p| p.display().to_string()).collect();
        put("data", words(&paths));
        put("data_snapshots", data_snapshots.to_string());
    }
    if let Some(user) = &run_as.user {
        put("user", quote(user));
    }
    if let Some(group) = &run_as.group {
        put("group", quote(group));
    }
    if let Some(groups) = &run_as.groups {
        put("groups", words(groups));
    }
    put("umask", quote(&format!("{umask:04o}")));
    put("no_new_privs", no_new_privs.to_string());
    put("trust_path", trust_path.to_string());
    put("private_tmp", private_tmp.to_string());
    if let Some(caps) = capabilities {
        let names: Vec<String> = caps.to_names().into_iter().map(String::from).collect();
        put("capabilities", words(&names));
    }
    if let Some(m) = memory_max {
        put("memory_max", m.to_string());
    }
    if let Some(p) = pids_max {
        put("pids_max", p.to_string());
    }
    if let Some(c) = cpu_max {
        put("cpu_max", c.to_string());
    }
    for (key, limit) in [
        ("cpu", rlimits.cpu),
        ("fsize", rlimits.fsize),
        ("nofile", rlimits.nofile),
        ("core", rlimits.core),
        ("nproc", rlimits.nproc),
        ("memlock", rlimits.memlock),
        ("as", rlimits.r#as),
        ("stack", rlimits.stack),
    ] {
        if let Some(n) = limit {
            put(&format!("limits.{key}"), n.to_string());
        }
    }
    // A secret's value anywhere else (an argument, a probe's URL) is masked as the logs
    // mask it.
    match Redactor::of(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        secret_env,
    ) {
        Some(r) => out
            .into_iter()
            .map(|(k, v)| {
                let v = r.text(&v).into_owned();
                (k, v)
            })
            .collect(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(text: &str) -> std::sync::Arc<ServiceConfig> {
        let cfg = crate::config::parse(std::path::Path::new("/srv/ward.toml"), text)
            .expect("valid config");
        cfg.services["api"].clone()
    }

    #[test]
    fn defaults_are_filled_in_and_secrets_masked_everywhere() {
        let s = service(
            r#"
            [services.api]
            command = ["/srv/api", "--db", "postgres://u:hunter2hunter2@db/x", "--name", "a\"b"]
            secret_env = ["DATABASE_URL"]
            env = { DATABASE_URL = "postgres://u:hunter2hunter2@db/x", MODE = "prod", API_KEY = "k-1234567890" }
            depends_on = { db = "healthy" }
            [services.db]
            command = ["/srv/db"]
            health = { tcp = "127.0.0.1:5432" }
            "#,
        );
        let got = describe(&s);
        let get = |k: &str| {
            got.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {k} in {got:?}"))
        };
        let all = format!("{got:?}");
        assert!(!all.contains("hunter2"), "{all}");
        assert!(!all.contains("k-1234567890"), "{all}");
        assert_eq!(get("env.DATABASE_URL"), MASK);
        assert_eq!(get("env.API_KEY"), MASK);
        assert_eq!(get("env.MODE"), "\"prod\"");
        assert_eq!(
            get("command"),
            r#"["/srv/api", "--db", "[redacted DATABASE_URL]", "--name", "a\"b"]"#
        );
        // Defaults, as the config would write them.
        assert_eq!(get("restart"), "\"always\"");
        assert_eq!(get("stop_signal"), "\"SIGTERM\"");
        assert_eq!(get("depends_on"), "[db = \"healthy\"]");
        assert_eq!(get("cwd"), "\"/srv\"");
    }
}
