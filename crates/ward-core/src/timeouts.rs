//! How long the CLI waits for the daemon's answer before it gives up.
//!
//! Most requests are answered at once (after one journal commit), so [`ANSWER`] is
//! plenty. Three wait, by design, for processes to end, and their bound is computed from
//! the config: a stop and a restart answer once every selected unit is down (the stop
//! half, for a restart), which takes up to the unit's `stop_timeout` before the SIGKILL;
//! a shutdown stops dependents before what they depend on, so it takes up to the sum of
//! `stop_timeout`s along the longest chain of dependencies. [`ANSWER`] comes on top as a
//! margin for the rest (the kill itself, the reaping, the journal). A backup copies and
//! checks the whole journal, which [`BACKUP`] allows for.
//!
//! The config is the file's, as the CLI reads it now; a daemon still running an older one
//! (not reloaded) may take longer, and `--timeout` is there for that.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::Config;
use crate::deps::Graph;

/// An ordinary request, and the margin on top of every computed bound.
pub const ANSWER: Duration = Duration::from_secs(30);

/// `ward backup`: an online copy of the journal and an integrity check of the copy.
pub const BACKUP: Duration = Duration::from_secs(300);

/// A stop, restart or shutdown when the config cannot be read in full, so that the stop
/// timeouts are not known.
pub const UNKNOWN_STOPS: Duration = Duration::from_secs(600);

/// How long a stop or restart of the units `names` (unit or service names), or of every
/// unit with `all`, may take to be answered.
pub fn stop(config: Option<&Config>, names: &[String], all: bool) -> Duration {
    let Some(config) = config else {
        return ANSWER + UNKNOWN_STOPS;
    };
    let longest = config
        .services
        .values()
        .filter(|s| {
            all || names.iter().any(|n| {
                n == &s.name
                    || n.strip_prefix(s.name.as_str())
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|i| i.parse::<u32>().is_ok_and(|i| i < s.instances))
            })
        })
        .map(|s| s.stop_timeout)
        .max()
        .unwrap_or(Duration::ZERO);
    ANSWER + longest
}

/// How long a shutdown (`ward down`) may take to be answered: every service is stopped
/// once all that depend on it are down, so the longest chain of `stop_timeout`s decides.
pub fn shutdown(config: Option<&Config>) -> Duration {
    let Some(config) = config else {
        return ANSWER + UNKNOWN_STOPS;
    };
    let graph = Graph::of(&config.services);
    // When each service is down at the latest, dependents first: a service's stop begins
    // once its dependents are down, and lasts up to its stop_timeout.
    let mut begins: BTreeMap<String, Duration> = BTreeMap::new();
    let mut longest = Duration::ZERO;
    for name in graph.start_order().iter().rev() {
        let Some(service) = config.services.get(name) else {
            continue;
        };
        let down = begins.get(name).copied().unwrap_or_default() + service.stop_timeout;
        longest = longest.max(down);
        for dependency in graph.dependencies(name) {
            let at = begins.entry(dependency.clone()).or_default();
            *at = (*at).max(down);
        }
    }
    ANSWER + longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        crate::config::parse(Path::new("/x/ward.toml"), text).expect("valid")
    }

    const CHAIN: &str = "[services.db]\ncommand = \"db\"\nstop_timeout = \"60s\"\n\
        [services.api]\ncommand = \"api\"\nstop_timeout = \"20s\"\ndepends_on = [\"db\"]\n\
        [services.web]\ncommand = \"web\"\ndepends_on = [\"api\"]\ninstances = 2\n\
        [services.cron]\ncommand = \"cron\"\nstop_timeout = \"90s\"\n";

    #[test]
    fn a_stop_waits_for_the_longest_stop_timeout_it_selects() {
        let c = config(CHAIN);
        let secs = |d: Duration| d.as_secs();
        assert_eq!(secs(stop(Some(&c), &["web.1".into()], false)), 30 + 10);
        assert_eq!(
            secs(stop(Some(&c), &["web".into(), "db".into()], false)),
            30 + 60
        );
        assert_eq!(secs(stop(Some(&c), &[], true)), 30 + 90);
        // An unknown name is answered at once, with a 404.
        assert_eq!(secs(stop(Some(&c), &["web.2".into()], false)), 30);
        assert_eq!(secs(stop(None, &["web".into()], false)), 30 + 600);
    }

    #[test]
    fn a_shutdown_waits_for_the_longest_chain_of_stops() {
        // web (10s), then api (20s), then db (60s): 90s; cron alone is 90s too.
        assert_eq!(shutdown(Some(&config(CHAIN))).as_secs(), 30 + 90);
        let longer = CHAIN.replace("stop_timeout = \"60s\"", "stop_timeout = \"61s\"");
        assert_eq!(shutdown(Some(&config(&longer))).as_secs(), 30 + 91);
        assert_eq!(shutdown(Some(&config(""))).as_secs(), 30);
        assert_eq!(shutdown(None).as_secs(), 30 + 600);
    }
}
