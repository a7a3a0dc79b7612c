//! The keys that confine a service's processes beyond its limits: `user`, `group`,
//! `groups`, `capabilities`.

use super::fields::{Ctx, item_at};
use crate::caps::CapSet;
use toml_edit::{Item, Value};

/// `user = "www-data"` or `user = 33` (and the same for `group`): a name as the user
/// database spells it, or a numeric id.
pub(crate) fn account(ctx: &mut Ctx<'_>, key: &str, item: &Item) -> Option<String> {
    if let Some(n) = item.as_integer() {
        // (uid_t)-1 means "leave unchanged" to the kernel: never an id.
        return match u32::try_from(n) {
            Ok(id) if id != u32::MAX => Some(id.to_string()),
            _ => {
                let message = format!("`{key}` must be an id from 0 to 4294967294, found {n}");
                ctx.error(item_at(item), message, None);
                None
            }
        };
    }
    let Some(text) = item.as_str() else {
        let hint = format!("a name such as {key} = \"www-data\", or a numeric id");
        ctx.wrong_type(key, "a name or an id", item, Some(hint));
        return None;
    };
    name(ctx, key, text, item_at(item))
}

/// A user or group name: what `useradd` would accept, loosely (no whitespace, `:` or
/// `/`, which the user database cannot hold).
fn name(ctx: &mut Ctx<'_>, key: &str, text: &str, at: usize) -> Option<String> {
    let bad = text.is_empty()
        || text.len() > 256
        || text.starts_with('-')
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ':' | '/' | ','));
    if bad {
        let message = format!("`{key}` must be a user or group name, found {text:?}");
        let hint = "names hold letters, digits, `_`, `-` and `.` and do not start with `-`";
        ctx.error(at, message, Some(hint.to_string()));
        return None;
    }
    Some(text.to_string())
}

/// `groups = ["adm", 4]`: the supplementary groups, replacing the user's memberships;
/// `[]` leaves the process in its primary group alone.
pub(crate) fn groups(ctx: &mut Ctx<'_>, item: &Item) -> Option<Vec<String>> {
    let Some(array) = item.as_array() else {
        ctx.wrong_type("groups", "an array of group names", item, None);
        return None;
    };
    let mut out = Vec::new();
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value {
            Value::Integer(n) => match u32::try_from(*n.value()) {
                Ok(id) if id != u32::MAX => out.push(id.to_string()),
                _ => ctx.error(at, "`groups` ids must be from 0 to 4294967294", None),
            },
            Value::String(s) => out.extend(name(ctx, "groups", s.value(), at)),
            _ => ctx.error(at, "`groups` entries must be group names or ids", None),
        }
    }
    Some(out)
}

/// `capabilities = ["CAP_NET_BIND_SERVICE"]`: the ones the service keeps; `[]` drops all.
pub(crate) fn capabilities(ctx: &mut Ctx<'_>, item: &Item) -> Option<CapSet> {
    let Some(array) = item.as_array() else {
        ctx.wrong_type(
            "capabilities",
            "an array of capability names",
            item,
            Some("such as capabilities = [\"CAP_NET_BIND_SERVICE\"]".into()),
        );
        return None;
    };
    let mut set = CapSet::default();
    let mut ok = true;
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        let Some(text) = value.as_str() else {
            ctx.error(at, "`capabilities` entries must be capability names", None);
            ok = false;
            continue;
        };
        match CapSet::number(text) {
            Some(cap) => set.insert(cap),
            None => {
                let full = format!("CAP_{}", text.trim_start_matches("CAP_"));
                let hint =
                    match super::suggest::did_you_mean(&full, CapSet::names().iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => {
                            "use a name from capabilities(7), such as `CAP_NET_BIND_SERVICE`".into()
                        }
                    };
                ctx.error(at, format!("unknown capability {text:?}"), Some(hint));
                ok = false;
            }
        }
    }
    ok.then_some(set)
}
