//! YAML out of a JSON value, for Kubernetes manifests: block style, strings in double
//! quotes as JSON writes them (a JSON string is a YAML double-quoted scalar), so nothing
//! a value holds can change its meaning. Written by hand: the YAML crates of the field
//! are unmaintained, and this is all that writing needs.

use serde_json::Value;

/// `value` as one YAML document.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    node(value, 0, &mut out);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

fn is_block(value: &Value) -> bool {
    matches!(value, Value::Object(o) if !o.is_empty())
        || matches!(value, Value::Array(a) if !a.is_empty())
}

/// Writes the entries of a map or the items of a list at `indent`.
fn node(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if is_block(v) {
                    out.push_str(&format!("{pad}{k}:\n"));
                    let inner = if v.is_array() { indent } else { indent + 2 };
                    node(v, inner, out);
                } else {
                    out.push_str(&format!("{pad}{k}: {}\n", scalar(v)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if is_block(item) {
                    // The first line of the item follows the dash.
                    let mut inner = String::new();
                    node(item, indent + 2, &mut inner);
                    let body = inner.trim_start();
                    out.push_str(&format!("{pad}- {body}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_and_lists() {
        let v = serde_json::json!({
            "kind": "Pod",
            "spec": {"containers": [{"name": "a", "args": ["x: y", "1"]}], "empty": []}
        });
        assert_eq!(
            document(&v),
            "kind: \"Pod\"\nspec:\n  containers:\n  - args:\n    - \"x: y\"\n    - \"1\"\n    name: \"a\"\n  empty: []\n"
        );
    }
}
