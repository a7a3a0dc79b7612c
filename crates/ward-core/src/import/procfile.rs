//! A Procfile (foreman, honcho, Heroku): `name: command` per line. Each process type
//! becomes a service that runs its command line through `/bin/sh -c`, as foreman does,
//! with `PORT` as foreman gives it (5000 for the first type, 100 more for each next one).
//! Heroku's `release` type becomes a one-shot task that the others wait for.

use super::{Imported, Table, Value, render, service_name};

/// The first port foreman gives, and the step between process types.
const PORT_BASE: i64 = 5000;
const PORT_STEP: i64 = 100;

/// `text`, a Procfile; `env_file`, a dotenv file to give every service (`--env`).
pub fn import(text: &str, env_file: Option<&str>) -> Result<Imported, String> {
    let mut tables: Vec<Table> = Vec::new();
    let mut warnings = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, command)) = line.split_once(':') else {
            return Err(format!("line {}: `{line}` is not `name: command`", n + 1));
        };
        let (name, command) = (name.trim(), command.trim());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "line {}: `{name}` is not a process type name (letters, digits, `-`, `_`)",
                n + 1
            ));
        }
        if command.is_empty() {
            return Err(format!("line {}: `{name}` has no command", n + 1));
        }
        if tables.iter().any(|t| t.name == name) {
            warnings.push(format!(
                "line {}: `{name}` appears twice; the last one is kept",
                n + 1
            ));
            tables.retain(|t| t.name != name);
        }
        let mut t = Table::new(&service_name(name));
        t.set("command", Value::Str(command.to_string()));
        t.set("shell", Value::Bool(true));
        if let Some(file) = env_file {
            t.set("env_file", Value::Str(file.to_string()));
        }
        tables.push(t);
    }
    if tables.is_empty() {
        return Err("the Procfile names no process".into());
    }
    let release = tables.iter().any(|t| t.name == "release");
    let mut port = PORT_BASE;
    for t in &mut tables {
        if t.name == "release" {
            t.comments
                .push("Heroku's release phase: runs once, before the other processes start".into());
            t.set("type", Value::Str("oneshot".into()));
            t.set("remain_after_exit", Value::Bool(true));
            continue;
        }
        t.set("port_base", Value::Int(port));
        port += PORT_STEP;
        if release {
            t.set(
                "depends_on",
                Value::Raw("{ release = \"completed\" }".into()),
            );
        }
    }
    let header = vec![
        "Imported from a Procfile by `ward import procfile`.".into(),
        "Each process runs through /bin/sh -c, as foreman does, with PORT as foreman gives it."
            .into(),
        "foreman and honcho stop everything when one process ends; ward restarts the one that"
            .into(),
        "ended. For theirs, add exit_when = \"any\" to [supervisor].".into(),
    ];
    Ok(Imported {
        toml: render(&header, &[], &tables),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heroku_procfile_with_a_release_phase() {
        let out = import(
            "# The app\nrelease: ./manage.py migrate\nweb: gunicorn app.wsgi --bind 0.0.0.0:$PORT\nworker: celery -A app worker\n",
            Some(".env"),
        )
        .unwrap();
        let config = crate::config::parse(std::path::Path::new("/srv/app/ward.toml"), &out.toml)
            .unwrap_or_else(|e| panic!("{e}\n{}", out.toml));
        let web = &config.services["web"];
        assert_eq!(
            web.command,
            ["/bin/sh", "-c", "gunicorn app.wsgi --bind 0.0.0.0:$PORT"]
        );
        assert_eq!(web.port_base, Some(5000));
        assert_eq!(config.services["worker"].port_base, Some(5100));
        assert_eq!(web.depends_on[0].service, "release");
        assert_eq!(
            config.services["release"].kind,
            crate::config::ServiceType::Oneshot
        );
        assert_eq!(web.env_file, [std::path::Path::new("/srv/app/.env")]);
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(import("web ./app\n", None).unwrap_err().contains("line 1"));
        assert!(
            import("we b: x\n", None)
                .unwrap_err()
                .contains("not a process type")
        );
        assert!(import("web:\n", None).unwrap_err().contains("no command"));
        assert!(import("# nothing\n", None).is_err());
    }
}
