//! `${VAR}` in `command` and `env`: every reference must name a variable the service's
//! environment has (see `crate::expand`). Checked here against what the file declares;
//! names that only an `env_file` could hold are left for [`super::Config::read_env_files`],
//! with their place, since those files are read after the parse.

use std::collections::BTreeMap;

use toml_edit::{Item, TableLike};

use super::command::map_offset;
use super::fields::{Ctx, item_at};
use super::model::VarRef;

/// What ward itself puts in every service's environment, besides `env` and `inherit_env`
/// (`PATH` always; `HOME`, `LANG`, `TZ` from ward's own; `USER`, `LOGNAME` with `user`).
const WARD_SETS: &[&str] = &[
    "WARD_UNIT",
    "WARD_SERVICE",
    "WARD_INSTANCE",
    "PATH",
    "HOME",
    "LANG",
    "TZ",
    "USER",
    "LOGNAME",
];

/// What the service's table declares, to check references against.
pub(crate) struct Declared<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub inherit_env: &'a [String],
    pub port_base: bool,
    pub env_file: bool,
}

impl Declared<'_> {
    fn knows(&self, name: &str) -> bool {
        WARD_SETS.contains(&name)
            || (self.port_base && name == "PORT")
            || self.env.contains_key(name)
            || self.inherit_env.iter().any(|n| n == name)
    }
}

/// Checks the references of `command` (unless it goes to a shell, which expands it
/// itself) and of `env`'s values. Errors are reported at their place; names that an
/// `env_file` may hold are returned.
pub(crate) fn check(
    ctx: &mut Ctx<'_>,
    service: &str,
    table: &dyn TableLike,
    shell: bool,
    declared: &Declared<'_>,
) -> Vec<VarRef> {
    let mut deferred = Vec::new();
    let mut strings: Vec<(&'static str, &Item)> = Vec::new();
    if !shell && let Some(item) = table.get("command") {
        strings.push(("command", item));
    }
    let mut values = Vec::new();
    if let Some(env) = table.get("env").and_then(Item::as_table_like) {
        for (_, value) in env.iter() {
            values.push(value);
        }
    }
    strings.extend(values.into_iter().map(|v| ("env", v)));
    for (key, item) in strings {
        for (text, start, raw) in pieces(ctx, item) {
            match crate::expand::references(&text) {
                Ok(refs) => {
                    for r in refs {
                        if declared.knows(&r.name) {
                            continue;
                        }
                        let at = map_offset(raw, &text, r.at).map_or(start, |o| start + o);
                        if declared.env_file {
                            let (line, column) = ctx.locate(at);
                            deferred.push(VarRef {
                                name: r.name,
                                key,
                                line,
                                column,
                            });
                        } else {
                            ctx.error(at, unknown(service, key, &r.name), Some(hint(&r.name)));
                        }
                    }
                }
                Err(m) => {
                    let at = map_offset(raw, &text, m.at).map_or(start, |o| start + o);
                    ctx.error(
                        at,
                        format!("[services.{service}] {key}: {}", m.why),
                        Some("write ${NAME}, or $${ for a literal `${`".into()),
                    );
                }
            }
        }
    }
    deferred
}

/// The message for a reference to a variable the service does not have.
pub(crate) fn unknown(service: &str, key: &str, name: &str) -> String {
    format!(
        "[services.{service}] {key}: unknown variable `${{{name}}}`: it is not set by `env`, \
         `env_file`, `inherit_env` or ward"
    )
}

/// How to give the service the variable.
pub(crate) fn hint(name: &str) -> String {
    format!(
        "add {name} to `env` (or an `env_file`), name it in inherit_env = [\"{name}\"], or \
         write $${{{name}}} for the text itself"
    )
}

/// The strings of a `command` or `env` value: (decoded text, byte offset of its literal,
/// the literal as written).
fn pieces<'t>(ctx: &Ctx<'t>, item: &Item) -> Vec<(String, usize, &'t str)> {
    if let Some(text) = item.as_str() {
        return vec![(text.to_string(), item_at(item), ctx.source(item))];
    }
    let Some(array) = item.as_array() else {
        return Vec::new();
    };
    array
        .iter()
        .filter_map(|v| {
            let span = v.span();
            let start = span.as_ref().map_or(item_at(item), |s| s.start);
            Some((v.as_str()?.to_string(), start, ctx.source_of(span)))
        })
        .collect()
}
