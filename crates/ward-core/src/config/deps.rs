//! `depends_on`: the names a service lists, and the checks that need every service known
//! (each name exists, no service depends on itself, no cycle).

use super::fields::{Ctx, item_at};
use super::model::Services;
use toml_edit::{Item, TableLike};

/// `depends_on = ["db", "cache"]`, or one name as a string.
pub(crate) fn names(ctx: &mut Ctx<'_>, item: &Item) -> Vec<String> {
    if let Some(one) = item.as_str() {
        return vec![one.to_string()];
    }
    let Some(array) = item.as_array() else {
        ctx.wrong_type(
            "depends_on",
            "an array of service names",
            item,
            Some("write depends_on = [\"db\"]".into()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_str() {
            Some(name) if !out.iter().any(|n| n == name) => out.push(name.to_string()),
            Some(name) => ctx.error(at, format!("`depends_on` names `{name}` twice"), None),
            None => ctx.error(at, "`depends_on` entries must be service names", None),
        }
    }
    out
}

/// Checks every `depends_on` against the whole file: unknown names (with the closest
/// known one), a service that depends on itself, and cycles (named in full).
pub(crate) fn check(ctx: &mut Ctx<'_>, tables: &dyn TableLike, services: &Services) {
    let at = |service: &str, dep: &str| -> usize {
        let Some(item) = tables.get(service).and_then(|t| t.get("depends_on")) else {
            return 0;
        };
        if let Some(array) = item.as_array() {
            for v in array.iter() {
                if v.as_str() == Some(dep) {
                    return v.span().map_or(item_at(item), |s| s.start);
                }
            }
        }
        item_at(item)
    };
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    for svc in services.values() {
        for dep in &svc.depends_on {
            if dep == &svc.name {
                ctx.error(
                    at(&svc.name, dep),
                    format!("[services.{}] depends on itself", svc.name),
                    Some("remove it from `depends_on`".into()),
                );
            } else if !services.contains_key(dep) {
                let hint = super::suggest::hint_for(dep, &known);
                ctx.error(
                    at(&svc.name, dep),
                    format!(
                        "[services.{}] depends on `{dep}`, which is not a service in this file",
                        svc.name
                    ),
                    Some(hint),
                );
            }
        }
    }
    if let Some(cycle) = crate::deps::find_cycle(services) {
        let first = &cycle[0];
        ctx.error(
            at(first, &cycle[1]),
            format!("services depend on each other in a cycle: {}", cycle.join(" -> ")),
            Some("remove one of these `depends_on` entries; nothing in a cycle could ever start first".into()),
        );
    }
}
