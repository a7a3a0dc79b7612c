//! Creating a unit: its output FIFOs and their capture, its log, its cgroup and resource
//! controllers with their limits, and its state machine.

use ward_core::config::Instance;
use ward_core::machine::{Params, ServiceMachine};

use crate::contain::Containment;
use crate::supervisor::Supervisor;
use crate::unit::Unit;
use crate::verdicts::OomBaseline;

impl Supervisor {
    /// Creates a unit (pipes, log, cgroup, machine). A unit whose output cannot be set up
    /// (a full disk, no descriptors left) still exists: each spawn tries again, and fails
    /// with the reason until it works, so the unit shows why in `backoff`, `exited` or
    /// `failed`, never vanishes.
    pub fn add_unit(&mut self, instance: Instance) {
        let name = instance.name.clone();
        self.add_unit_later(instance);
        self.ensure_set_up(&name);
        if let Err(e) = self.set_up_output(&name) {
            tracing::error!(unit = %name, error = %e, "each start tries again");
        }
    }

    /// Creates a unit without touching the file system: its cgroup, controllers and FIFOs
    /// wait for its first spawn (see [`Supervisor::ensure_set_up`]), which the start
    /// backlog spreads over the loop's slices. For a unit that never ran on this state dir:
    /// nothing of it can be running, so nothing needs its cgroup yet. Thousands of them
    /// then exist, and show in a status, from the loop's first turn on.
    pub fn add_unit_later(&mut self, instance: Instance) {
        let name = instance.name.clone();
        self.journal.record(ward_store::Record::Unit {
            unit: name.clone(),
            service: instance.service.name.clone(),
        });
        let unit = self.build_unit(instance);
        self.units.insert(name, Box::new(unit));
    }

    /// Makes the unit's cgroup and controller directories and sets its limits, if that
    /// is still to do.
    pub(crate) fn ensure_set_up(&mut self, name: &str) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if unit.set_up {
            return;
        }
        unit.set_up = true;
        unit.containment = match &self.cgroups {
            Some(driver) => match driver.service(name) {
                Ok(cg) => Containment::Cgroup(cg),
                Err(e) => {
                    tracing::warn!(unit = %name, error = %e, "no cgroup for this service; containing it by process tree");
                    Containment::Tree
                }
            },
            None => Containment::Tree,
        };
        let wants = wants(&unit.instance);
        unit.controllers = self.controllers.unit(name, wants).unwrap_or_else(|e| {
            tracing::warn!(unit = %name, error = %e, "no resource controllers for this service");
            ward_sys::controllers::UnitControllers::default()
        });
        apply_limits(name, &unit.instance, &self.controllers, &unit.controllers);
        // What a run of an adopted unit joined, as far as its config says.
        unit.run_controllers = unit.controllers.for_run(wants);
        // Before any run of this daemon's: a hook of an adopted unit writes to the log too.
        unit.log.set_secrets(crate::launch::secrets(
            &crate::launch::environment(name, &unit.instance),
            &unit.instance,
        ));
    }

    /// Opens the unit's FIFOs and has them captured, if that is still to do.
    pub(crate) fn set_up_output(&mut self, name: &str) -> Result<(), String> {
        let sup = &self.config.supervisor;
        let Some(unit) = self.units.get_mut(name) else {
            return Ok(());
        };
        if unit.output.is_ok() {
            return Ok(());
        }
        let [out, err] = unit.fifos(&sup.runtime_dir);
        let opened = (|| {
            let out_r = ward_sys::fifo::open_reader(&out).or_else(|e| {
                crate::persist::made_again(e, &crate::unit::io_dir(&sup.runtime_dir), || {
                    ward_sys::fifo::open_reader(&out)
                })
            })?;
            let err_r = ward_sys::fifo::open_reader(&err)?;
            Ok::<_, std::io::Error>((out_r, err_r))
        })();
        match opened {
            Ok((out_r, err_r)) => {
                self.captures.watch(out_r, err_r, unit.log.clone());
                unit.output = Ok(());
                Ok(())
            }
            Err(e) => {
                let why = format!("cannot set up the service's output: {e}");
                unit.output = Err(why.clone());
                Err(why)
            }
        }
    }

    fn build_unit(&mut self, instance: Instance) -> Unit {
        let name = instance.name.clone();
        let sup = &self.config.supervisor;
        let log = self.logs.open(
            sup.log_dir.join(format!("{name}.log")),
            sup.log_max_size,
            sup.log_keep,
        );
        let private_tmp = instance
            .service
            .private_tmp
            .then(|| crate::private_tmp::dir(&sup.runtime_dir, &name));
        let mut seed = self.seed;
        for b in name.bytes() {
            seed = seed.rotate_left(5) ^ u64::from(b);
        }
        Unit {
            machine: ServiceMachine::new(Params::from(&*instance.service), seed),
            instance,
            main: None,
            containment: Containment::Tree,
            set_up: false,
            log,
            timer: None,
            awaiting_tree: false,
            pidfile: None,
            controllers: Default::default(),
            run_controllers: Default::default(),
            oom_baseline: OomBaseline::default(),
            counters_at_exit: None,
            stop_escalated: false,
            strategy_due: None,
            last_strategy: None,
            repair_before_spawn: false,
            restore_before_spawn: false,
            on_failure_due: false,
            verdict: None,
            output: Err("not set up yet".into()),
            persisted: None,
            last_started: None,
            last_exit_at: None,
            removing: false,
            health: Default::default(),
            ready_notified: false,
            schedule: None,
            post_start_pending: false,
            held_stop: None,
            spawn_after_post_stop: false,
            start_queued: false,
            private_tmp,
            usage: None,
            seldom: None,
        }
    }
}

/// The controllers the unit's limits need.
pub(crate) fn wants(instance: &Instance) -> ward_sys::controllers::Wants {
    let svc = &instance.service;
    ward_sys::controllers::Wants {
        memory: svc.memory_max.is_some(),
        pids: svc.pids_max.is_some(),
        cpu: svc.cpu_max.is_some(),
    }
}

/// Sets the unit's cgroup limits, and says where one cannot be enforced.
pub(crate) fn apply_limits(
    name: &str,
    instance: &Instance,
    available: &ward_sys::controllers::Controllers,
    unit: &ward_sys::controllers::UnitControllers,
) {
    let svc = &instance.service;
    if svc.memory_max.is_some() && !available.has_memory() {
        tracing::warn!(unit = %name, "memory_max cannot be enforced: no memory controller here");
    }
    if svc.pids_max.is_some() && !available.has_pids() {
        tracing::warn!(unit = %name, "pids_max cannot be enforced: no pids controller here");
    }
    if let Err(e) = unit.set_memory_max(svc.memory_max) {
        tracing::warn!(unit = %name, error = %e, "cannot set memory_max");
    }
    if svc.cpu_max.is_some() && !available.has_cpu() {
        tracing::warn!(unit = %name, "cpu_max cannot be enforced: no cpu controller here");
    }
    if let Err(e) = unit.set_cpu_max(svc.cpu_max) {
        tracing::warn!(unit = %name, error = %e, "cannot set cpu_max");
    }
    if let Err(e) = unit.set_pids_max(svc.pids_max) {
        tracing::warn!(unit = %name, error = %e, "cannot set pids_max");
    }
}
