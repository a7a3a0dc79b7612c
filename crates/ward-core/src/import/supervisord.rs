//! supervisord's `supervisord.conf` (and the files its `[include]` names): each
//! `[program:x]` becomes a service, each key its ward equivalent, every key without one a
//! comment and a warning. The INI dialect is Python's ConfigParser as supervisord uses it:
//! `key = value` or `key: value`, `;` comments (inline after whitespace), indented
//! continuation lines, `%(name)s` expansions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Imported, Table, Value, render, service_name};

/// One section: its name and keys, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// `program:web`, `include`, `supervisord`, …
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Keys (lowercased) and values, continuation lines joined with `\n`.
    pub keys: Vec<(String, String)>,
}

/// The sections of one file.
pub fn sections(file: &Path, text: &str) -> Result<Vec<Section>, String> {
    let mut out: Vec<Section> = Vec::new();
    let mut last_key: Option<usize> = None;
    for (n, raw) in text.lines().enumerate() {
        let place = || format!("{}:{}", file.display(), n + 1);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // A continuation of the last key's value.
            let (Some(section), Some(i)) = (out.last_mut(), last_key) else {
                return Err(format!(
                    "{}: an indented line with no key before it",
                    place()
                ));
            };
            let value = &mut section.keys[i].1;
            value.push('\n');
            value.push_str(strip_comment(trimmed));
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[') {
            let Some(name) = name.strip_suffix(']') else {
                return Err(format!("{}: `{trimmed}` is not a section header", place()));
            };
            out.push(Section {
                name: name.trim().to_string(),
                file: file.to_path_buf(),
                keys: Vec::new(),
            });
            last_key = None;
            continue;
        }
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(format!("{}: `{trimmed}` is not `key = value`", place()));
        };
        let Some(section) = out.last_mut() else {
            return Err(format!("{}: a key before any [section]", place()));
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        let value = strip_comment(trimmed[at + 1..].trim()).to_string();
        section.keys.retain(|(k, _)| k != &key);
        section.keys.push((key, value));
        last_key = Some(section.keys.len() - 1);
    }
    Ok(out)
}

/// A value without its inline `;` comment (one after whitespace, as supervisord reads it).
fn strip_comment(value: &str) -> &str {
    match value.find(" ;").or_else(|| value.find("\t;")) {
        Some(i) => value[..i].trim_end(),
        None => value,
    }
}

/// The file patterns of the `[include] files =` of `sections`, relative to their file's
/// directory, for the caller to read.
pub fn includes(sections: &[Section]) -> Vec<PathBuf> {
    sections
        .iter()
        .filter(|s| s.name == "include")
        .flat_map(|s| {
            let dir = s.file.parent().map(Path::to_path_buf).unwrap_or_default();
            get(s, "files")
                .unwrap_or_default()
                .split_whitespace()
                .map(move |p| dir.join(p))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn get<'s>(section: &'s Section, key: &str) -> Option<&'s str> {
    section
        .keys
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Keys of `[program:x]` that are mapped; every other key is warned about.
const MAPPED: &[&str] = &[
    "command",
    "process_name",
    "numprocs",
    "numprocs_start",
    "priority",
    "autostart",
    "startsecs",
    "startretries",
    "autorestart",
    "exitcodes",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "user",
    "redirect_stderr",
    "environment",
    "directory",
    "umask",
];

/// Sections that concern supervisord itself, not a program: nothing to carry over.
const OWN: &[&str] = &[
    "supervisord",
    "supervisorctl",
    "unix_http_server",
    "include",
];

/// The config made from every section of every file read (the main file first).
pub fn import(sections: &[Section]) -> Result<Imported, String> {
    let mut warnings = Vec::new();
    let mut tables = Vec::new();
    let mut priorities: Vec<(i64, String)> = Vec::new();
    let mut supervisor = Vec::new();
    for s in sections {
        let Some(program) = s.name.strip_prefix("program:") else {
            if s.name == "inet_http_server" {
                let port = get(s, "port").unwrap_or("");
                supervisor.push(("http".to_string(), Value::Str(listen_address(port))));
                warnings.push(
                    "[inet_http_server] ward's HTTP listener takes a bearer token (in the state dir's http.token), not username and password"
                        .to_string(),
                );
            } else if !OWN.contains(&s.name.as_str()) && !s.name.starts_with("rpcinterface:") {
                warnings.push(format!(
                    "[{}] has no ward equivalent ({}); not carried over",
                    s.name,
                    what_section(&s.name)
                ));
            }
            continue;
        };
        let name = service_name(program);
        let mut t = Table::new(&name);
        let here = s
            .file
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| ".".into());
        let numprocs: u32 = match get(s, "numprocs") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("[program:{program}] numprocs: `{v}` is not a number"))?,
            None => 1,
        };
        let mut inherit: Vec<String> = Vec::new();
        let mut expand = |value: &str, warnings: &mut Vec<String>| {
            expand(value, program, numprocs, &here, warnings, &mut inherit)
        };
        let Some(command) = get(s, "command") else {
            return Err(format!("[program:{program}] has no `command`"));
        };
        let argv = split(&expand(command, &mut warnings))
            .map_err(|e| format!("[program:{program}] command: {e}"))?;
        t.set("command", Value::List(argv));
        if let Some(dir) = get(s, "directory") {
            t.set("cwd", Value::Str(expand(dir, &mut warnings)));
        }
        if numprocs > 1 {
            t.set("instances", Value::Int(i64::from(numprocs)));
            t.comments.push(format!(
                "numprocs = {numprocs}: instances {name}.0 … {name}.{}, each with WARD_INSTANCE",
                numprocs - 1
            ));
        }
        if let Some(start) = get(s, "numprocs_start").filter(|v| v.trim() != "0") {
            warnings.push(format!(
                "[program:{program}] numprocs_start = {start}: ward numbers instances from 0 (WARD_INSTANCE); add the offset where the program reads it"
            ));
        }
        if let Some(v) = get(s, "autostart") {
            t.set("autostart", Value::Bool(boolean(v)));
        }
        let restart = match get(s, "autorestart").map(str::trim) {
            Some("true") => "always",
            Some("false") => "never",
            // supervisord's default: restart when the exit code is not in `exitcodes`.
            _ => "on-failure",
        };
        t.set("restart", Value::Str(restart.into()));
        let codes: Vec<i64> = get(s, "exitcodes")
            .unwrap_or("0")
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
            .filter(|&c| c != 0)
            .collect();
        if !codes.is_empty() {
            let list: Vec<String> = codes.iter().map(i64::to_string).collect();
            t.set(
                "success_exit_codes",
                Value::Raw(format!("[{}]", list.join(", "))),
            );
        }
        // supervisord's defaults, written out: they differ from ward's.
        let startsecs = get(s, "startsecs").unwrap_or("1").trim().to_string();
        t.set("min_uptime", Value::Str(format!("{startsecs}s")));
        let retries = get(s, "startretries").unwrap_or("3").trim().to_string();
        t.set(
            "start_limit",
            Value::Raw(format!("{{ burst = {retries}, interval = \"1h\" }}")),
        );
        if let Some(sig) = get(s, "stopsignal") {
            t.set("stop_signal", Value::Str(sig.trim().to_ascii_uppercase()));
        }
        let wait = get(s, "stopwaitsecs").unwrap_or("10").trim().to_string();
        t.set("stop_timeout", Value::Str(format!("{wait}s")));
        let group = ["stopasgroup", "killasgroup"]
            .iter()
            .any(|k| get(s, k).is_some_and(boolean));
        t.set(
            "kill_mode",
            Value::Str(if group { "tree" } else { "main" }.into()),
        );
        if let Some(user) = get(s, "user") {
            t.set("user", Value::Str(user.trim().to_string()));
        }
        if let Some(umask) = get(s, "umask") {
            t.set(
                "umask",
                Value::Str(format!("{:0>3}", umask.trim().trim_start_matches('0'))),
            );
        }
        if let Some(env) = get(s, "environment") {
            t.env = environment(&expand(env, &mut warnings))
                .map_err(|e| format!("[program:{program}] environment: {e}"))?;
        }
        if !inherit.is_empty() {
            inherit.sort();
            inherit.dedup();
            t.set("inherit_env", Value::List(inherit));
        }
        if get(s, "redirect_stderr").is_some_and(boolean) {
            t.comments.push(
                "redirect_stderr: ward keeps both streams in one log, each line marked out or err"
                    .into(),
            );
        }
        let priority: i64 = get(s, "priority")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(999);
        priorities.push((priority, name.clone()));
        for (key, value) in &s.keys {
            if !MAPPED.contains(&key.as_str()) {
                let why = unmapped(key);
                warnings.push(format!("[program:{program}] {key}: {why}"));
                t.comments
                    .push(format!("not carried over: {key} = {value} ({why})"));
            }
        }
        tables.push(t);
    }
    if tables.is_empty() {
        return Err("no [program:x] section".into());
    }
    // `priority` orders starts, lower first: each level waits for the start of the level
    // below it.
    let mut levels: Vec<i64> = priorities.iter().map(|(p, _)| *p).collect();
    levels.sort_unstable();
    levels.dedup();
    for t in &mut tables {
        let mine = priorities
            .iter()
            .find(|(_, n)| *n == t.name)
            .map_or(999, |(p, _)| *p);
        let Some(below) = levels.iter().rev().find(|&&l| l < mine) else {
            continue;
        };
        let deps: Vec<String> = priorities
            .iter()
            .filter(|(p, _)| p == below)
            .map(|(_, n)| format!("{n} = \"started\""))
            .collect();
        t.comments.push(format!(
            "priority {mine}: starts after the programs of priority {below}"
        ));
        t.set(
            "depends_on",
            Value::Raw(format!("{{ {} }}", deps.join(", "))),
        );
    }
    let header = vec!["Imported from supervisord's config by `ward import supervisord`.".into()];
    Ok(Imported {
        toml: render(&header, &supervisor, &tables),
        warnings,
    })
}

/// `127.0.0.1:9001`, `*:9001` or `9001` as an address ward listens on.
fn listen_address(port: &str) -> String {
    let port = port.trim();
    match port.rsplit_once(':') {
        Some(("*" | "", p)) => format!("0.0.0.0:{p}"),
        Some(_) => port.to_string(),
        None => format!("0.0.0.0:{port}"),
    }
}

fn what_section(name: &str) -> &'static str {
    if name.starts_with("group:") {
        "ward has no groups; name several services on the command line"
    } else if name.starts_with("eventlistener:") {
        "ward's [[hooks]] run a command per event"
    } else if name.starts_with("fcgi-program:") {
        "ward does not open sockets for its services"
    } else {
        "unknown to ward"
    }
}

fn unmapped(key: &str) -> &'static str {
    match key {
        k if k.starts_with("stdout_") || k.starts_with("stderr_") => {
            "ward writes each service's log itself (log_dir, log_max_size, log_keep)"
        }
        "serverurl" => "services reach ward on its socket",
        "priority" => "mapped to depends_on",
        _ => "no ward equivalent",
    }
}

fn boolean(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "1"
    )
}

/// supervisord's expansions: `%(program_name)s`, `%(process_num)s` (as `${WARD_INSTANCE}`),
/// `%(here)s`, `%(ENV_X)s` (as `${X}`), `%(group_name)s`, `%(numprocs)s`, and `%%`.
fn expand(
    value: &str,
    program: &str,
    numprocs: u32,
    here: &str,
    warnings: &mut Vec<String>,
    inherit: &mut Vec<String>,
) -> String {
    // supervisord leaves `${…}` alone: for ward it is text, `$${…}`.
    let literal = |text: &str| text.replace("${", "$${");
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('%') {
        out.push_str(&literal(&rest[..i]));
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
            continue;
        }
        let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|a| a.split_once(')'))
            // A format such as `s`, `d` or `02d` follows; ward has one form of each value.
            .and_then(|(n, t)| {
                let t = t.trim_start_matches(|c: char| c.is_ascii_digit());
                Some((n, t.strip_prefix(|c: char| c.is_ascii_alphabetic())?))
            })
        else {
            out.push('%');
            rest = after;
            continue;
        };
        match name {
            "program_name" | "group_name" => out.push_str(program),
            "process_num" => out.push_str("${WARD_INSTANCE}"),
            "numprocs" => out.push_str(&numprocs.to_string()),
            "here" => out.push_str(here),
            n if n.starts_with("ENV_") => {
                // supervisord's own environment: ward passes it on by name.
                out.push_str(&format!("${{{}}}", &n[4..]));
                inherit.push(n[4..].to_string());
            }
            other => {
                warnings.push(format!(
                    "[program:{program}] %({other})s has no ward equivalent; left as it is"
                ));
                out.push_str(&format!("%({other})s"));
            }
        }
        rest = tail;
    }
    out.push_str(&literal(rest));
    out
}

/// A command line split as supervisord splits it (shlex, without a shell).
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a ' is never closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a \" is never closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a \" is never closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("it is empty".into());
    }
    Ok(words)
}

/// `KEY="value",KEY2=value2` as supervisord writes `environment`.
fn environment(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            return Err(format!("`{rest}` is not KEY=value"));
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or("a \" is never closed")?;
            (q[..end].to_string(), &q[end + 1..])
        } else if let Some(q) = after.strip_prefix('\'') {
            let end = q.find('\'').ok_or("a ' is never closed")?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.insert(key, value);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import_text(text: &str) -> Imported {
        let s = sections(Path::new("/etc/supervisor/supervisord.conf"), text).unwrap();
        import(&s).unwrap()
    }

    #[test]
    fn a_program_maps_key_by_key() {
        let out = import_text(
            "[supervisord]\nlogfile=/tmp/supervisord.log ; the main log\n\
             [program:web]\ncommand=/usr/bin/gunicorn app:app --bind \"0.0.0.0:%(ENV_PORT)s\"\n\
             directory=%(here)s/app\nnumprocs=2\nprocess_name=%(program_name)s_%(process_num)02d\n\
             autostart=true\nautorestart=unexpected\nexitcodes=0,2\nstartsecs=5\nstartretries=4\n\
             stopsignal=quit\nstopwaitsecs=20\nstopasgroup=true\nuser=www-data\n\
             environment=A=\"1\",B='two words',C=3\nredirect_stderr=true\n\
             stdout_logfile=/var/log/web.log\npriority=10\n\
             [program:db]\ncommand=/usr/bin/postgres\npriority=1\n",
        );
        let config = crate::config::parse(Path::new("/etc/ward/ward.toml"), &out.toml)
            .unwrap_or_else(|e| panic!("{e}\n{}", out.toml));
        let web = &config.services["web"];
        assert_eq!(
            web.command,
            ["/usr/bin/gunicorn", "app:app", "--bind", "0.0.0.0:${PORT}"]
        );
        assert_eq!(web.cwd, Path::new("/etc/supervisor/app"));
        assert_eq!(web.instances, 2);
        assert_eq!(web.restart, crate::config::RestartPolicy::OnFailure);
        assert_eq!(web.success_exit_codes.codes(), [2]);
        assert_eq!(web.min_uptime, std::time::Duration::from_secs(5));
        assert_eq!(web.start_limit.burst, 4);
        assert_eq!(web.stop_signal.name(), "SIGQUIT");
        assert_eq!(web.stop_timeout, std::time::Duration::from_secs(20));
        assert_eq!(web.kill_mode, crate::config::KillMode::Tree);
        assert_eq!(web.run_as.user.as_deref(), Some("www-data"));
        assert_eq!(web.env["B"], "two words");
        assert_eq!(web.inherit_env, ["PORT"]);
        assert_eq!(web.depends_on[0].service, "db");
        assert_eq!(
            config.services["db"].kill_mode,
            crate::config::KillMode::Main
        );
        assert!(
            out.warnings
                .iter()
                .any(|w| w.starts_with("[program:web] stdout_logfile:")),
            "{:?}",
            out.warnings
        );
        assert!(
            out.toml
                .contains("# not carried over: stdout_logfile = /var/log/web.log")
        );
    }

    #[test]
    fn continuation_lines_comments_and_includes() {
        let s = sections(
            Path::new("/etc/supervisor/supervisord.conf"),
            "; a comment\n[include]\nfiles = conf.d/*.conf\n\
             [program:x]\ncommand = /bin/cat\n  --flag ; inline\n",
        )
        .unwrap();
        assert_eq!(
            includes(&s),
            [PathBuf::from("/etc/supervisor/conf.d/*.conf")]
        );
        assert_eq!(get(&s[1], "command"), Some("/bin/cat\n--flag"));
        assert!(sections(Path::new("f"), "key = 1\n").is_err());
        assert!(sections(Path::new("f"), "[x\n").is_err());
    }
}
