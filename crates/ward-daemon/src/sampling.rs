//! Sampling what each running unit uses, every `sample_interval`: CPU, memory, threads,
//! descriptors, I/O, from the unit's cgroup where it has one (its `cgroup.procs`, and its
//! `cpu.stat` on cgroup v2, which keeps the time of processes that have ended), else from
//! its process tree. The loop only lists what to read; the reading happens on a thread
//! of its own, and the numbers come back as a message. With `sample_interval = "0s"`
//! nothing is armed, and an idle daemon does not wake. With `sample_while = "watched"`
//! (the default) rounds run only from a look at the usage (`usage_watched`) until a while
//! after the last one, so an idle daemon that nobody watches does not wake either.

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use ward_api::UsageInfo;
use ward_core::config::SampleWhile;
use ward_sys::usage::Usage;

use crate::contain::{Containment, TreeRoots};
use crate::supervisor::Supervisor;

/// Where one unit's processes are found.
enum Source {
    /// Its cgroup directory.
    Cgroup(PathBuf),
    /// Its tree: the main process, and ward's orphans with the unit's marker.
    Tree,
}

/// One unit to read.
struct Target {
    name: String,
    main: u32,
    source: Source,
}

/// One unit as read.
pub(crate) struct Reading {
    name: String,
    main: u32,
    usage: Usage,
    at: Instant,
}

/// The sampler's state in the loop.
#[derive(Default)]
pub(crate) struct Sampler {
    /// When the next round is due; `None` with sampling off, or stopped until a look.
    pub due: Option<Instant>,
    /// A round is being read.
    in_flight: bool,
    /// The last look at the usage.
    last_look: Option<Instant>,
}

impl Sampler {
    /// With `"always"`, armed for the first round one interval after the start; with
    /// `"watched"`, at the first look; never with sampling off.
    pub fn new(every: std::time::Duration, mode: SampleWhile) -> Sampler {
        Sampler {
            due: (!every.is_zero() && mode == SampleWhile::Always).then(|| Instant::now() + every),
            in_flight: false,
            last_look: None,
        }
    }
}

impl Supervisor {
    /// Someone looks at the usage (a status, a metrics scrape, the samples, a reader of
    /// the rounds): rounds go on for a while from now, and if they had stopped, the first
    /// one is read at once.
    pub(crate) fn usage_watched(&mut self) {
        if self.config.supervisor.sample_interval.is_zero() {
            return;
        }
        let now = Instant::now();
        self.sampler.last_look = Some(now);
        if self.sampler.due.is_none() {
            self.sampler.due = Some(now);
        }
    }

    /// Starts a round if one is due: the list of running units goes to a thread, which
    /// reads them and sends the readings back (`samples_read`).
    pub(crate) fn sample_if_due(&mut self) {
        let every = self.config.supervisor.sample_interval;
        let now = Instant::now();
        if every.is_zero() || self.sampler.due.is_none_or(|d| d > now) {
            return;
        }
        let wanted = ward_core::sample::round_wanted(
            self.config.supervisor.sample_while,
            every,
            self.sampler.last_look,
            self.events.wants_usage(),
            now,
        );
        if !wanted {
            // Nobody has looked for a while: nothing is armed until the next look. The
            // next round's CPU percent must not average the whole quiet time.
            self.sampler.due = None;
            for s in self.units.values_mut().filter_map(|u| u.seldom_held()) {
                s.last_cpu = None;
            }
            return;
        }
        self.sampler.due = Some(now + every);
        if self.sampler.in_flight {
            // The last round is still being read (thousands of units on a busy machine):
            // skip this one rather than pile them up.
            return;
        }
        let targets: Vec<Target> = self
            .units
            .values()
            .filter_map(|u| {
                let main = u.main.as_ref()?.pidfd.pid();
                let source = match &u.containment {
                    Containment::Cgroup(cg) => Source::Cgroup(cg.path().to_path_buf()),
                    Containment::Tree => Source::Tree,
                };
                Some(Target {
                    name: u.name().to_string(),
                    main,
                    source,
                })
            })
            .collect();
        if targets.is_empty() {
            return;
        }
        self.sampler.in_flight = true;
        let (tx, me, pss) = (
            self.samples_tx.clone(),
            self.me,
            self.config.supervisor.sample_pss,
        );
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(read(targets, me, pss));
        });
    }

    /// A round's readings: each becomes its unit's usage, if the run read is still the
    /// current one.
    pub(crate) fn samples_read(&mut self, readings: Vec<Reading>) {
        self.sampler.in_flight = false;
        let at_ms = Supervisor::epoch_ms(SystemTime::now());
        let publish = self.events.wants_usage();
        let mut round = Vec::new();
        for r in readings {
            let Some(unit) = self.units.get_mut(&r.name) else {
                continue;
            };
            if unit.main.as_ref().map(|m| m.pidfd.pid()) != Some(r.main) {
                continue;
            }
            let seldom = unit.seldom_mut();
            let before = seldom.last_cpu.filter(|(_, _, main)| *main == r.main);
            let cpu_percent = before.and_then(|(at, ns, _)| {
                ward_core::sample::cpu_percent(ns, r.usage.cpu_ns, r.at.duration_since(at))
            });
            seldom.last_cpu = Some((r.at, r.usage.cpu_ns, r.main));
            // The run's peak: a spawn clears the usage, so what is there is this run's,
            // across a stop of the rounds too.
            let peak = unit
                .usage
                .as_ref()
                .map_or(0, |u| u.memory_peak_rss_bytes)
                .max(r.usage.rss_bytes);
            let usage = UsageInfo {
                cpu_percent,
                cpu_seconds: r.usage.cpu_ns as f64 / 1e9,
                memory_rss_bytes: r.usage.rss_bytes,
                memory_peak_rss_bytes: peak,
                memory_pss_bytes: r.usage.pss_bytes,
                threads: r.usage.threads,
                fds: r.usage.fds,
                read_bytes: r.usage.read_bytes,
                write_bytes: r.usage.write_bytes,
                processes: r.usage.processes,
                sampled_at_ms: at_ms,
            };
            // In the box of the last round: after a run's first round, a round allocates
            // nothing per unit.
            match unit.usage.as_deref_mut() {
                Some(last) => *last = usage,
                None => unit.usage = Some(Box::new(usage)),
            }
            let point = ward_api::UsagePoint {
                at_ms,
                cpu_percent,
                memory_rss_bytes: r.usage.rss_bytes,
            };
            let trail = &mut unit.seldom_mut().usage_trail;
            if trail.len() >= ward_api::USAGE_POINTS {
                trail.pop_front();
            }
            trail.push_back(point);
            if publish {
                round.push(ward_api::UnitUsage {
                    unit: r.name,
                    points: vec![point],
                });
            }
        }
        self.events.publish_usage(round);
    }
}

/// Reads every target: one look at `/proc` for all the trees, one read of `cgroup.procs`
/// per cgroup.
fn read(targets: Vec<Target>, ward: u32, pss: bool) -> Vec<Reading> {
    let table = targets
        .iter()
        .any(|t| matches!(t.source, Source::Tree))
        .then(ward_sys::tree::ProcessTable::scan);
    targets
        .into_iter()
        .map(|t| {
            let (pids, cgroup_cpu) = match &t.source {
                Source::Cgroup(dir) => (
                    ward_sys::cgroup::pids_in(dir).unwrap_or_default(),
                    ward_sys::usage::cgroup_cpu_ns(dir),
                ),
                Source::Tree => {
                    let roots = TreeRoots {
                        unit: &t.name,
                        main: Some(t.main),
                        ward,
                    };
                    let pids = table
                        .as_ref()
                        .map(|table| {
                            Containment::tree_pids_in(table, roots)
                                .into_iter()
                                .map(|(p, _)| p)
                                .collect::<Vec<u32>>()
                        })
                        .unwrap_or_default();
                    (pids, None)
                }
            };
            let mut usage = ward_sys::usage::of_processes(&pids, pss);
            if let Some(ns) = cgroup_cpu {
                usage.cpu_ns = ns;
            }
            Reading {
                name: t.name,
                main: t.main,
                usage,
                at: Instant::now(),
            }
        })
        .collect()
}
