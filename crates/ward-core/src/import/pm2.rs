//! pm2's ecosystem file: `ecosystem.config.json`, or `ecosystem.config.js` read without
//! running JavaScript. From a `.js` file only the object literal assigned to
//! `module.exports` is taken, and read as JSON5 (unquoted keys, single quotes, trailing
//! commas, comments), which is what pm2's own documentation writes; anything that needs
//! JavaScript to run (a function call, a variable, a template string) is refused.

use serde_json::Value as Json;

use super::{Imported, Table, Value, render, service_name};

/// `text`, the file's content; `js`, whether it is a `.js` file.
pub fn import(text: &str, js: bool) -> Result<Imported, String> {
    let literal = if js { exported_object(text)? } else { text };
    let root: Json = json5::from_str(literal).map_err(|e| {
        if js {
            format!(
                "module.exports is not a plain object literal ({e}); ward reads the file \
                 without running JavaScript: write the values themselves, or export them \
                 with `pm2 ecosystem` to JSON"
            )
        } else {
            format!("not JSON: {e}")
        }
    })?;
    let apps = match root.get("apps") {
        Some(Json::Array(apps)) => apps.clone(),
        Some(app @ Json::Object(_)) => vec![app.clone()],
        _ => return Err("no `apps` array".into()),
    };
    let mut tables = Vec::new();
    let mut warnings = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let Some(app) = app.as_object() else {
            return Err(format!("apps[{i}] is not an object"));
        };
        let name = app
            .get("name")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("app{i}"));
        let label = format!("apps[{i}] ({name})");
        let Some(script) = app.get("script").and_then(Json::as_str) else {
            return Err(format!("{label} has no `script`"));
        };
        let mut t = Table::new(&service_name(&name));
        let mut argv: Vec<String> = Vec::new();
        match app.get("interpreter").and_then(Json::as_str) {
            Some("none") => {}
            Some(interpreter) => argv.push(interpreter.to_string()),
            None => {
                if let Some(guess) = interpreter_for(script) {
                    argv.push(guess.to_string());
                }
            }
        }
        if let Some(node_args) = app.get("node_args").or(app.get("interpreter_args")) {
            argv.extend(words(node_args));
        }
        argv.push(script.to_string());
        if let Some(args) = app.get("args") {
            argv.extend(words(args));
        }
        t.set("command", Value::List(argv));
        if let Some(cwd) = app.get("cwd").and_then(Json::as_str) {
            t.set("cwd", Value::Str(cwd.to_string()));
        }
        match app.get("instances") {
            Some(Json::Number(n)) if n.as_i64().is_some_and(|n| n > 1) => {
                t.set("instances", Value::Int(n.as_i64().unwrap_or(1)));
            }
            Some(Json::Number(n)) if n.as_i64().is_some_and(|n| n <= 0) => warnings.push(format!(
                "{label} instances: {n} (one per CPU) is a number ward needs written; 1 instance"
            )),
            Some(Json::String(s)) if s == "max" => warnings.push(format!(
                "{label} instances: \"max\" (one per CPU) is a number ward needs written; 1 instance"
            )),
            _ => {}
        }
        if let Some(env) = app.get("env").and_then(Json::as_object) {
            for (k, v) in env {
                let v = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                t.env.insert(k.clone(), v.replace("${", "$${"));
            }
        }
        if app.get("autorestart").and_then(Json::as_bool) == Some(false) {
            t.set("restart", Value::Str("never".into()));
        }
        if let Some(n) = app.get("max_restarts").and_then(Json::as_i64) {
            t.set(
                "start_limit",
                Value::Raw(format!("{{ burst = {n}, interval = \"1h\" }}")),
            );
        }
        if let Some(d) = app.get("min_uptime").and_then(duration) {
            t.set("min_uptime", Value::Str(d));
        }
        if let Some(d) = app.get("kill_timeout").and_then(duration) {
            t.set("stop_timeout", Value::Str(d));
        }
        if let Some(d) = app.get("exp_backoff_restart_delay").and_then(duration) {
            // pm2 grows the delay by 1.5 up to 15 s.
            t.set(
                "backoff",
                Value::Raw(format!(
                    "{{ initial = \"{d}\", factor = 1.5, max = \"15s\" }}"
                )),
            );
        } else if let Some(d) = app.get("restart_delay").and_then(duration) {
            t.set(
                "backoff",
                Value::Raw(format!("{{ initial = \"{d}\", factor = 1.0 }}")),
            );
        }
        if let Some(m) = app.get("max_memory_restart").and_then(Json::as_str) {
            t.set("memory_max", Value::Str(memory(m)));
            t.comments.push(
                "max_memory_restart: memory_max is a cgroup limit; the kernel ends the service past it and ward restarts it".into(),
            );
        }
        if app.get("autorestart").is_none() && app.get("max_restarts").is_none() {
            // pm2's defaults: restart always, 16 unstable restarts, 1 s of uptime.
            t.set(
                "start_limit",
                Value::Raw("{ burst = 16, interval = \"1h\" }".into()),
            );
        }
        const MAPPED: &[&str] = &[
            "name",
            "script",
            "interpreter",
            "node_args",
            "interpreter_args",
            "args",
            "cwd",
            "instances",
            "env",
            "autorestart",
            "max_restarts",
            "min_uptime",
            "kill_timeout",
            "restart_delay",
            "exp_backoff_restart_delay",
            "max_memory_restart",
        ];
        for (key, value) in app {
            if MAPPED.contains(&key.as_str()) {
                continue;
            }
            let why = match key.as_str() {
                k if k.starts_with("env_") => {
                    "an environment for `pm2 --env`; ward has one env per service: copy the one you deploy into env"
                }
                "exec_mode" => {
                    "cluster mode shares one port among Node processes; ward's instances each get their own (port_base)"
                }
                "watch" | "ignore_watch" | "watch_options" => {
                    "ward does not restart on file changes"
                }
                "cron_restart" => {
                    "a restart on a schedule: a task with `schedule` that runs `ward restart` does it"
                }
                "out_file" | "error_file" | "log_file" | "merge_logs" | "log_date_format"
                | "combine_logs" => "ward writes each service's log itself",
                "wait_ready" | "listen_timeout" => {
                    "pm2's ready message is Node's IPC; ward's is sd_notify (ready = \"notify\") or a health check"
                }
                _ => "no ward equivalent",
            };
            warnings.push(format!("{label} {key}: {why}"));
            t.comments
                .push(format!("not carried over: {key} = {value} ({why})"));
        }
        tables.push(t);
    }
    let header = vec!["Imported from a pm2 ecosystem file by `ward import pm2`.".into()];
    Ok(Imported {
        toml: render(&header, &[], &tables),
        warnings,
    })
}

/// The object literal of `module.exports = { … }` (or `export default { … }`), up to its
/// matching brace; strings and comments are skipped while counting braces.
fn exported_object(text: &str) -> Result<&str, String> {
    let start = ["module.exports", "export default"]
        .iter()
        .find_map(|marker| {
            let at = text.find(marker)? + marker.len();
            let rest = text[at..].trim_start();
            let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
            rest.starts_with('{').then(|| text.len() - rest.len())
        })
        .ok_or("no `module.exports = { … }` with an object literal; ward reads the file without running JavaScript")?;
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, start);
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(&text[start..=i]);
                }
            }
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Err("the object of module.exports never closes".into())
}

/// The interpreter pm2 picks by the script's extension.
fn interpreter_for(script: &str) -> Option<&'static str> {
    let ext = script.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "js" | "cjs" | "mjs" => "node",
        "py" => "python3",
        "sh" => "bash",
        "rb" => "ruby",
        "php" => "php",
        "pl" => "perl",
        _ => return None,
    })
}

/// `args` as pm2 takes it: an array, or a string split on whitespace.
fn words(value: &Json) -> Vec<String> {
    match value {
        Json::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Json::String(s) => s.split_whitespace().map(str::to_string).collect(),
        other => vec![other.to_string()],
    }
}

/// pm2's times: milliseconds as a number, or a string such as `"2s"` or `"1000"`.
fn duration(value: &Json) -> Option<String> {
    match value {
        Json::Number(n) => n.as_u64().map(|ms| format!("{ms}ms")),
        Json::String(s) if s.chars().all(|c| c.is_ascii_digit()) => Some(format!("{s}ms")),
        Json::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `"300M"`, `"1G"`, `"512K"` as ward's sizes.
fn memory(text: &str) -> String {
    let t = text.trim();
    match t.chars().last() {
        Some(u @ ('K' | 'M' | 'G')) => format!("{}{u}iB", &t[..t.len() - 1]),
        _ => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS: &str = r#"
// The example of pm2's documentation, with more keys.
module.exports = {
  apps : [{
    name   : "api",
    script : "./api/index.js",
    args   : "--port 3000",
    instances : 2,
    exec_mode : "cluster",
    max_memory_restart : '300M',
    env : { NODE_ENV: "development", PRICE: '${5}' },
    env_production : { NODE_ENV: "production" },
    kill_timeout : 3000,
    min_uptime : "2s",
    max_restarts : 10,
    exp_backoff_restart_delay: 100,
  }, {
    name: 'worker',
    script: 'worker.py',
    autorestart: false, /* a job */
  }]
}
"#;

    #[test]
    fn a_js_ecosystem_file_is_read_without_running_it() {
        let out = import(JS, true).unwrap();
        let config = crate::config::parse(std::path::Path::new("/srv/ward.toml"), &out.toml)
            .unwrap_or_else(|e| panic!("{e}\n{}", out.toml));
        let api = &config.services["api"];
        assert_eq!(api.command, ["node", "./api/index.js", "--port", "3000"]);
        assert_eq!(api.instances, 2);
        assert_eq!(api.memory_max, Some(300 << 20));
        assert_eq!(api.env["PRICE"], "$${5}");
        assert_eq!(api.stop_timeout, std::time::Duration::from_secs(3));
        assert_eq!(api.min_uptime, std::time::Duration::from_secs(2));
        assert_eq!(api.start_limit.burst, 10);
        assert_eq!(config.services["worker"].command, ["python3", "worker.py"]);
        assert_eq!(
            config.services["worker"].restart,
            crate::config::RestartPolicy::Never
        );
        for key in ["exec_mode", "env_production"] {
            assert!(
                out.warnings
                    .iter()
                    .any(|w| w.contains(&format!("(api) {key}:"))),
                "{key}: {:?}",
                out.warnings
            );
        }
    }

    #[test]
    fn javascript_that_must_run_is_refused() {
        let err = import(
            "const port = 3000;\nmodule.exports = { apps: [{ name: 'a', script: 'a.js', args: `--port ${port}` }] }",
            true,
        )
        .unwrap_err();
        assert!(err.contains("without running JavaScript"), "{err}");
        let err = import("module.exports = require('./base')", true).unwrap_err();
        assert!(err.contains("object literal"), "{err}");
        assert!(
            import(
                "{\"apps\": [{\"name\": \"x\", \"script\": \"/bin/x\"}]}",
                false
            )
            .is_ok()
        );
        assert!(
            import("{\"apps\": [{\"name\": \"x\"}]}", false)
                .unwrap_err()
                .contains("no `script`")
        );
    }
}
