//! `depends_on`: the services a service waits for and what each must reach, and the checks
//! that need every service known (each name exists, no service depends on itself, no
//! cycle, a condition the dependency can reach).

use super::fields::{Ctx, entries, item_at, key_at};
use super::model::{Condition, Dependency, ServiceType, Services};
use toml_edit::{Item, TableLike};

const CONDITIONS: &[(&str, Condition)] = &[
    ("ready", Condition::Ready),
    ("started", Condition::Started),
    ("healthy", Condition::Healthy),
    ("completed", Condition::Completed),
];

/// `depends_on = ["db", "cache"]` (each as its own `ready` says), one name as a string, or
/// a condition per edge: `depends_on = { db = "healthy", migrate = "completed" }`.
pub(crate) fn parse(ctx: &mut Ctx<'_>, item: &Item) -> Vec<Dependency> {
    let ready = |name: &str| Dependency {
        service: name.to_string(),
        condition: Condition::Ready,
    };
    if let Some(one) = item.as_str() {
        return vec![ready(one)];
    }
    if let Some(table) = item.as_table_like() {
        let mut out = Vec::new();
        for (key, value) in entries(table) {
            // docker compose's long names, for configs carried over from a compose file.
            let condition = match value.as_str() {
                Some("service_started") => Some(Condition::Started),
                Some("service_healthy") => Some(Condition::Healthy),
                Some("service_completed_successfully") => Some(Condition::Completed),
                _ => ctx.choice(&format!("depends_on.{}", key.get()), value, CONDITIONS),
            };
            if let Some(condition) = condition {
                out.push(Dependency {
                    service: key.get().to_string(),
                    condition,
                });
            }
        }
        return out;
    }
    if !item.is_array() {
        ctx.wrong_type(
            "depends_on",
            "an array of service names, or a table of conditions",
            item,
            Some("write depends_on = [\"db\"] or depends_on = { db = \"healthy\" }".into()),
        );
        return Vec::new();
    }
    names(ctx, item).iter().map(|n| ready(n)).collect()
}

/// `["db", "cache"]` or one name as a string: service names, each once.
pub(crate) fn names(ctx: &mut Ctx<'_>, item: &Item) -> Vec<String> {
    if let Some(one) = item.as_str() {
        return vec![one.to_string()];
    }
    let Some(array) = item.as_array() else {
        ctx.wrong_type(
            "depends_on",
            "an array of service names",
            item,
            Some("write [\"db\"]".into()),
        );
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_str() {
            Some(name) if !out.iter().any(|n| n == name) => out.push(name.to_string()),
            Some(name) => ctx.error(at, format!("`{name}` is named twice"), None),
            None => ctx.error(at, "entries must be service names", None),
        }
    }
    out
}

/// Why `target` can never reach `condition`, if it cannot.
fn unreachable(condition: Condition, target: &super::model::ServiceConfig) -> Option<&'static str> {
    match condition {
        Condition::Healthy if target.health.is_none() => Some("but it has no health check"),
        Condition::Completed
            if target.kind == ServiceType::Simple
                && target.restart == super::model::RestartPolicy::Always =>
        {
            Some("but it restarts after every end (restart = \"always\"), so it never completes")
        }
        Condition::Ready | Condition::Started | Condition::Healthy | Condition::Completed => None,
    }
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
        if let Some(table) = item.as_table_like()
            && let Some((key, _)) = table.get_key_value(dep)
        {
            return key_at(key);
        }
        item_at(item)
    };
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    for svc in services.values() {
        for edge in &svc.depends_on {
            let dep = &edge.service;
            if let Some(target) = services.get(dep)
                && dep != &svc.name
                && let Some(problem) = unreachable(edge.condition, target)
            {
                ctx.error(
                    at(&svc.name, dep),
                    format!(
                        "[services.{}] waits for `{dep}` to be {}, {problem}",
                        svc.name,
                        edge.condition.as_str()
                    ),
                    Some(match edge.condition {
                        Condition::Healthy => format!(
                            "give [services.{dep}] a health check, or wait for it to be \"started\""
                        ),
                        _ => format!(
                            "wait for `{dep}` to be \"started\", or make it type = \"oneshot\""
                        ),
                    }),
                );
            }
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
