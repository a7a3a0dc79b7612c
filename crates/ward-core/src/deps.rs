//! The dependency graph between services: what must be ready before a service starts, and
//! who is affected when it dies.
//!
//! Nodes are service names (not instances): `depends_on = ["db"]` waits for every instance
//! of `db`. The config check refuses unknown names and cycles, but the functions here stay
//! total on any graph: an unknown name is a node without edges, a cycle ends the walk.

use crate::config::Services;
use std::collections::{BTreeMap, BTreeSet};

/// `depends_on` of every service, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    deps: BTreeMap<String, Vec<String>>,
    /// The reverse edges: who lists each service, so finding dependents costs what it
    /// finds, not a walk over every service.
    rdeps: BTreeMap<String, Vec<String>>,
}

impl Graph {
    /// The graph a config declares.
    pub fn of(services: &Services) -> Graph {
        Graph::new(
            services
                .iter()
                .map(|(n, s)| {
                    let names = s.depends_on.iter().map(|d| d.service.clone()).collect();
                    (n.clone(), names)
                })
                .collect(),
        )
    }

    fn new(deps: BTreeMap<String, Vec<String>>) -> Graph {
        let mut rdeps: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, list) in &deps {
            for d in list {
                rdeps.entry(d.clone()).or_default().push(name.clone());
            }
        }
        Graph { deps, rdeps }
    }

    /// A graph from (service, its dependencies) pairs, for tests and tools.
    pub fn from_edges<'a>(edges: impl IntoIterator<Item = (&'a str, &'a [&'a str])>) -> Graph {
        Graph::new(
            edges
                .into_iter()
                .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
                .collect(),
        )
    }

    /// What `service` lists in `depends_on`.
    pub fn dependencies(&self, service: &str) -> &[String] {
        self.deps.get(service).map_or(&[], Vec::as_slice)
    }

    /// Every service that depends on `service`, directly or through others, by name.
    pub fn dependents(&self, service: &str) -> Vec<String> {
        let mut found = BTreeSet::new();
        let mut todo = vec![service.to_string()];
        while let Some(s) = todo.pop() {
            for name in self.rdeps.get(&s).into_iter().flatten() {
                if name != service && found.insert(name.clone()) {
                    todo.push(name.clone());
                }
            }
        }
        found.into_iter().collect()
    }

    /// Services in an order where each comes after everything it depends on; among those
    /// free to go, by name. Services caught in a cycle come last, by name.
    pub fn start_order(&self) -> Vec<String> {
        let mut placed: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::new();
        loop {
            let next: Vec<&str> = self
                .deps
                .iter()
                .filter(|(n, _)| !placed.contains(n.as_str()))
                .filter(|(n, deps)| {
                    deps.iter().all(|d| {
                        d == *n || placed.contains(d.as_str()) || !self.deps.contains_key(d)
                    })
                })
                .map(|(n, _)| n.as_str())
                .collect();
            if next.is_empty() {
                break;
            }
            for n in next {
                placed.insert(n);
                order.push(n.to_string());
            }
        }
        for n in self.deps.keys() {
            if !placed.contains(n.as_str()) {
                order.push(n.clone());
            }
        }
        order
    }

    /// A cycle, if there is one, as a path that ends where it starts (`a -> b -> a`). A
    /// service listing itself is not reported here (the config check names it as such).
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        // Depth-first search with the path on a stack; the smallest name starts, so the
        // same file always reports the same cycle.
        #[derive(Copy, Clone, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
        for start in self.deps.keys() {
            if marks.contains_key(start.as_str()) {
                continue;
            }
            let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            marks.insert(start, Mark::Open);
            while let Some(&mut (node, ref mut i)) = path.last_mut() {
                let deps = self.dependencies(node);
                if *i >= deps.len() {
                    marks.insert(node, Mark::Done);
                    path.pop();
                    continue;
                }
                let next = deps[*i].as_str();
                *i += 1;
                if next == node || !self.deps.contains_key(next) {
                    continue;
                }
                match marks.get(next) {
                    Some(Mark::Open) => {
                        let from = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            path[from..].iter().map(|(n, _)| n.to_string()).collect();
                        cycle.push(next.to_string());
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(next, Mark::Open);
                        path.push((next, 0));
                    }
                }
            }
        }
        None
    }
}

/// A cycle among `services`' `depends_on`, if any (see [`Graph::find_cycle`]).
pub fn find_cycle(services: &Services) -> Option<Vec<String>> {
    Graph::of(services).find_cycle()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(edges: &[(&'static str, &'static [&'static str])]) -> Graph {
        Graph::from_edges(edges.iter().copied())
    }

    #[test]
    fn start_order_puts_dependencies_first() {
        let graph = g(&[
            ("web", &["db", "cache"]),
            ("db", &[]),
            ("cache", &["db"]),
            ("worker", &["web"]),
            ("alone", &[]),
        ]);
        assert_eq!(
            graph.start_order(),
            ["alone", "db", "cache", "web", "worker"]
        );
    }

    #[test]
    fn dependents_are_transitive_and_exclude_the_service() {
        let graph = g(&[
            ("web", &["db"]),
            ("worker", &["web"]),
            ("db", &[]),
            ("report", &["db"]),
        ]);
        assert_eq!(graph.dependents("db"), ["report", "web", "worker"]);
        assert_eq!(graph.dependents("web"), ["worker"]);
        assert!(graph.dependents("worker").is_empty());
        assert!(graph.dependents("missing").is_empty());
    }

    #[test]
    fn cycles_are_found_and_named_from_the_smallest_name() {
        assert_eq!(g(&[("a", &["b"]), ("b", &[])]).find_cycle(), None);
        assert_eq!(
            g(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]).find_cycle(),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        assert_eq!(
            g(&[("x", &["y"]), ("y", &["x"]), ("a", &[])]).find_cycle(),
            Some(vec!["x".into(), "y".into(), "x".into()])
        );
        // A diamond is not a cycle.
        assert_eq!(
            g(&[("a", &["b", "c"]), ("b", &["d"]), ("c", &["d"]), ("d", &[])]).find_cycle(),
            None
        );
    }

    #[test]
    fn unknown_names_and_cycles_never_lose_a_service_from_the_order() {
        let graph = g(&[("a", &["ghost"]), ("b", &["c"]), ("c", &["b"])]);
        let order = graph.start_order();
        assert_eq!(order, ["a", "b", "c"]);
    }

    proptest::proptest! {
        /// Every service appears once, and without a cycle each comes after its
        /// dependencies.
        #[test]
        fn start_order_is_a_permutation_respecting_edges(
            edges in proptest::collection::vec((0u8..8, 0u8..8), 0..20)
        ) {
            let mut deps: BTreeMap<String, Vec<String>> =
                (0u8..8).map(|i| (format!("s{i}"), Vec::new())).collect();
            for (a, b) in edges {
                deps.get_mut(&format!("s{a}")).unwrap().push(format!("s{b}"));
            }
            let graph = Graph::new(deps);
            let order = graph.start_order();
            let mut sorted = order.clone();
            sorted.sort();
            proptest::prop_assert_eq!(sorted, (0u8..8).map(|i| format!("s{i}")).collect::<Vec<_>>());
            if graph.find_cycle().is_none() {
                for (i, s) in order.iter().enumerate() {
                    for d in graph.dependencies(s).iter().filter(|d| *d != s) {
                        let j = order.iter().position(|x| x == d).unwrap();
                        proptest::prop_assert!(j < i, "{} before its dependency {}", s, d);
                    }
                }
            } else {
                let cycle = graph.find_cycle().unwrap();
                proptest::prop_assert_eq!(cycle.first(), cycle.last());
                for w in cycle.windows(2) {
                    proptest::prop_assert!(graph.dependencies(&w[0]).contains(&w[1]));
                }
            }
        }
    }
}
