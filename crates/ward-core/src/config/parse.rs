//! The entry point: text of a `ward.toml` in, a checked [`Config`] or every problem out.

use super::errors::{ConfigErrors, Report};
use super::fields::{Ctx, entries};
use super::model::Config;
use super::{service, supervisor};
use std::collections::BTreeMap;
use std::path::Path;

const TOP_KEYS: &[&str] = &["supervisor", "services", "hooks"];

/// The largest config file ward reads: 16 MiB. A real `ward.toml` of 10,000 services is
/// a few megabytes; anything larger is a mistake (a log file named by `-c`, `/dev/zero`),
/// and reading it whole would cost the CLI and the daemon that much memory.
pub const MAX_FILE_SIZE: u64 = 16 << 20;

/// Parses and validates a whole config file.
///
/// `path` is used for messages and to resolve relative paths; the text is not read from it,
/// so tests and `ward check` on standard input work the same way. All problems are
/// reported at once, in file order, so that one run of `ward check` shows them all.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let mut report = Report::default();
            let at = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_string();
            let message = if message.is_empty() {
                "invalid TOML".to_string()
            } else {
                format!("invalid TOML: {}", lowercase_first(&message))
            };
            report.error(at, message, None);
            return Err(report.into_errors(path, text));
        }
    };
    let mut ctx = Ctx::new(path, text);
    let root = doc.as_table();

    for (key, _) in entries(root) {
        if !TOP_KEYS.contains(&key.get()) {
            ctx.unknown_key(key, "at the top level", TOP_KEYS);
        }
    }
    let supervisor = supervisor::parse(&mut ctx, root.get("supervisor"));

    let mut services = BTreeMap::new();
    if let Some(item) = root.get("services")
        && let Some(table) = ctx.table("services", item)
    {
        for (key, value) in entries(table) {
            if !service::check_name(&mut ctx, key) {
                continue;
            }
            if let Some(svc) = service::parse(&mut ctx, key.get(), value) {
                services.insert(key.get().to_string(), std::sync::Arc::new(svc));
            }
        }
    }

    let hooks = root
        .get("hooks")
        .map(|item| super::event_hooks::parse(&mut ctx, item))
        .unwrap_or_default();

    check_named_services(&mut ctx, root.get("supervisor"), &supervisor, &services);
    if let Some(table) = root.get("services").and_then(|i| i.as_table_like()) {
        super::deps::check(&mut ctx, table, &services);
        super::files::check(&mut ctx, path, &supervisor, table, &services);
    }

    if ctx.report.is_empty() {
        Ok(Config {
            path: path.to_path_buf(),
            supervisor,
            services,
            hooks,
        })
    } else {
        Err(ctx.report.into_errors(path, text))
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The `[supervisor]` settings of a file that may be invalid elsewhere, each setting that
/// cannot be read falling back to its default.
///
/// The CLI needs only the socket to reach a running daemon; a typo in a service that is
/// being edited must not keep `ward status` or `ward reload` (which then reports the typo
/// from the daemon) from working.
///
/// Every command of the CLI asks this first, so it reads only what can hold the
/// `[supervisor]` table: the lines before the first table header and the `[supervisor]`
/// sections (see [`supervisor_lines`]). Parsing all 5,000 services of a file to find its
/// socket was a third of `ward status`. Where those lines are not a document of their own
/// (a header-like line inside a multi-line value, say), the whole file is read as before.
pub fn locate(path: &Path, text: &str) -> super::SupervisorConfig {
    let part = supervisor_lines(text);
    let (text, doc) = match toml_edit::Document::parse(part.as_str()) {
        Ok(doc) => (part.as_str(), Ok(doc)),
        Err(_) => (text, toml_edit::Document::parse(text)),
    };
    let mut ctx = Ctx::new(path, text);
    match doc {
        Ok(doc) => supervisor::parse(&mut ctx, doc.as_table().get("supervisor")),
        Err(_) => supervisor::parse(&mut ctx, None),
    }
}

/// The lines of `text` that may hold the `[supervisor]` table: those before the first
/// table header (a dotted `supervisor.http = …` or an inline table there), and those of
/// every section whose header is `supervisor` or below it. Other sections are left out
/// whole. A line is taken for a header when, trimmed, it starts with `[`: inside a
/// multi-line value of a section left out that misjudges nothing kept, and inside one
/// that is kept it leaves lines that do not parse, which [`locate`] notices.
fn supervisor_lines(text: &str) -> String {
    let mut out = String::new();
    let mut keep = true;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(header) = trimmed.strip_prefix('[') {
            let name: String = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                .collect();
            keep = name == "supervisor" || name.starts_with("supervisor.");
        }
        if keep {
            out.push_str(line);
        }
    }
    out
}

/// `exit_when` and `exit_code` name services of the file.
fn check_named_services(
    ctx: &mut Ctx<'_>,
    table: Option<&toml_edit::Item>,
    sup: &super::settings::SupervisorConfig,
    services: &super::model::Services,
) {
    let Some(table) = table.and_then(|t| t.as_table_like()) else {
        return;
    };
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    let mut named: Vec<(&str, &str)> = Vec::new();
    if let crate::container::ExitWhen::Services(names) = &sup.exit_when {
        named.extend(names.iter().map(|n| ("exit_when", n.as_str())));
    }
    if let crate::container::ExitCode::Service(name) = &sup.exit_code {
        named.push(("exit_code", name.as_str()));
    }
    for (key, name) in named {
        if services.contains_key(name) {
            continue;
        }
        let at = table.get(key).map_or(0, super::fields::item_at);
        let hint = if key == "exit_code" {
            format!(
                "use \"first-failure\" or a service of this file; {}",
                super::suggest::hint_for(name, &known)
            )
        } else {
            super::suggest::hint_for(name, &known)
        };
        ctx.error(
            at,
            format!("[supervisor] {key} names `{name}`, which is not a service in this file"),
            Some(hint),
        );
    }
}
