//! Configs of other supervisors as a `ward.toml` (`ward import`): every setting mapped to
//! its ward key, every one without an equivalent written as a comment and returned as a
//! warning. Pure: the CLI reads the files (and supervisord's includes) and writes the
//! result.

pub mod pm2;
pub mod procfile;
pub mod supervisord;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::toml_text::{string, strings};

/// A `ward.toml` made from another tool's config, and what did not carry over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// The config file's text.
    pub toml: String,
    /// One line per setting without an equivalent: `[program:web] stdout_logfile: …`.
    pub warnings: Vec<String>,
}

/// One value of a service table, in TOML.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
    /// Written as it is (an inline table).
    Raw(String),
}

impl Value {
    fn render(&self) -> String {
        match self {
            Value::Str(s) => string(s),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::List(items) => strings(items),
            Value::Raw(r) => r.clone(),
        }
    }
}

/// A `[services.NAME]` table being made: keys in the order set, comments above them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub name: String,
    pub keys: Vec<(String, Value)>,
    pub env: BTreeMap<String, String>,
    pub comments: Vec<String>,
}

impl Table {
    pub fn new(name: &str) -> Table {
        Table {
            name: name.to_string(),
            ..Table::default()
        }
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.keys.retain(|(k, _)| k != key);
        self.keys.push((key.to_string(), value));
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out);
        for c in &self.comments {
            let _ = writeln!(out, "# {c}");
        }
        let _ = writeln!(out, "[services.{}]", self.name);
        for (k, v) in &self.keys {
            let _ = writeln!(out, "{k} = {}", v.render());
        }
        if !self.env.is_empty() {
            let pairs: Vec<String> = self
                .env
                .iter()
                .map(|(k, v)| format!("{k} = {}", Value::Str(v.clone()).render()))
                .collect();
            let _ = writeln!(out, "env = {{ {} }}", pairs.join(", "));
        }
    }
}

/// The whole file: a header comment, `[supervisor]` lines if any, the tables.
pub(crate) fn render(
    header: &[String],
    supervisor: &[(String, Value)],
    tables: &[Table],
) -> String {
    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    if !supervisor.is_empty() {
        let _ = writeln!(out, "\n[supervisor]");
        for (k, v) in supervisor {
            let _ = writeln!(out, "{k} = {}", v.render());
        }
    }
    for t in tables {
        t.render(&mut out);
    }
    out
}

/// A service name ward accepts, from another tool's: letters, digits, `-` and `_`.
pub(crate) fn service_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['-', '_']).to_string();
    if cleaned.is_empty() {
        "service".to_string()
    } else {
        cleaned.chars().take(64).collect()
    }
}
