//! Which `[[hooks]]` an event sets off: its kind, the state or health a unit enters, and
//! `recovered`, a unit running again after a crash.

use crate::config::EventHook;

/// What of an event the triggers look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Happening<'a> {
    /// The event's kind: `crash`, `state`, `health`, `action` …
    pub kind: &'a str,
    /// Its unit, if it is about one.
    pub unit: Option<&'a str>,
    /// For `state` and `health`: what the unit entered.
    pub to: Option<&'a str>,
    /// For `action`: what was asked (`reload` …).
    pub what: Option<&'a str>,
    /// The unit entered `running` and its last run had crashed.
    pub recovered: bool,
}

/// Whether `hook` runs for `h`.
pub fn fires(hook: &EventHook, h: &Happening<'_>) -> bool {
    if !hook.services.is_empty() {
        let Some(unit) = h.unit else { return false };
        let base = unit.split_once('.').map_or(unit, |(b, _)| b);
        if !hook.services.iter().any(|s| s == unit || s == base) {
            return false;
        }
    }
    hook.on.iter().any(|t| match t.as_str() {
        "recovered" => h.recovered,
        "reload" => h.kind == "action" && h.what == Some("reload"),
        "start" | "exit" | "crash" | "recovery" | "state" | "health" | "action" | "daemon" => {
            t == h.kind
        }
        entered => matches!(h.kind, "state" | "health") && h.to == Some(entered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(on: &[&str], services: &[&str]) -> EventHook {
        EventHook {
            index: 1,
            on: on.iter().map(|s| s.to_string()).collect(),
            services: services.iter().map(|s| s.to_string()).collect(),
            command: vec!["/bin/true".into()],
            timeout: std::time::Duration::from_secs(1),
            queue: 10,
        }
    }

    fn ev<'a>(kind: &'a str, unit: &'a str, to: Option<&'a str>) -> Happening<'a> {
        Happening {
            kind,
            unit: Some(unit),
            to,
            what: None,
            recovered: false,
        }
    }

    #[test]
    fn kinds_states_health_and_recovery() {
        let h = hook(&["crash", "failed", "unhealthy", "recovered"], &[]);
        assert!(fires(&h, &ev("crash", "web", None)));
        assert!(fires(&h, &ev("state", "web", Some("failed"))));
        assert!(!fires(&h, &ev("state", "web", Some("backoff"))));
        assert!(fires(&h, &ev("health", "web", Some("unhealthy"))));
        assert!(!fires(&h, &ev("health", "web", Some("healthy"))));
        assert!(!fires(&h, &ev("exit", "web", None)));
        let mut back = ev("state", "web", Some("running"));
        assert!(!fires(&h, &back));
        back.recovered = true;
        assert!(fires(&h, &back));
        let reload = Happening {
            kind: "action",
            unit: None,
            to: None,
            what: Some("reload"),
            recovered: false,
        };
        assert!(fires(&hook(&["reload"], &[]), &reload));
        assert!(!fires(&hook(&["crash"], &[]), &reload));
    }

    #[test]
    fn services_narrow_it_to_their_units() {
        let h = hook(&["crash"], &["web"]);
        assert!(fires(&h, &ev("crash", "web", None)));
        assert!(fires(&h, &ev("crash", "web.2", None)));
        assert!(!fires(&h, &ev("crash", "db", None)));
        let daemon = Happening {
            kind: "crash",
            unit: None,
            to: None,
            what: None,
            recovered: false,
        };
        assert!(!fires(&h, &daemon));
    }
}
