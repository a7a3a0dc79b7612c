//! Everything one `ward run` started: a cgroup of the run's own where this process may
//! make one (so nothing gets away, whatever it does to its parentage or environment), and
//! always this process as subreaper (a double fork or `setsid` lands back here), plus a
//! memory cgroup for `--memory-max`. Removed when dropped.

use std::time::{Duration, Instant};

use ward_core::Signal;
use ward_sys::cgroup::{CgroupDriver, ServiceCgroup};
use ward_sys::controllers::{Controllers, UnitControllers};

use crate::cmd::run::TICK;
use crate::exit::Failure;

/// The run's containment.
pub struct RunTree {
    cgroup: Option<(CgroupDriver, ServiceCgroup)>,
    memory: Option<(Controllers, UnitControllers)>,
}

impl RunTree {
    /// Makes the run's cgroups (a memory one only with `memory_max`) and makes this
    /// process a subreaper.
    pub fn new(memory_max: Option<u64>) -> Result<RunTree, Failure> {
        let id = format!("run-{}", std::process::id());
        // Without a cgroup (none mounted, or not ward's user), the subreaper holds it.
        let cgroup =
            CgroupDriver::detect(None, &id)
                .ok()
                .and_then(|driver| match driver.service("cmd") {
                    Ok(cg) => Some((driver, cg)),
                    Err(_) => {
                        let _ = driver.remove_base();
                        None
                    }
                });
        let mut tree = RunTree {
            cgroup,
            memory: None,
        };
        if let Some(bytes) = memory_max {
            let controllers = Controllers::detect(&id);
            if !controllers.has_memory() {
                controllers.remove_base();
                return Err(Failure::Failed(
                    "--memory-max needs the memory cgroup controller, which this machine does not offer to ward"
                        .into(),
                ));
            }
            let unit = controllers
                .unit(
                    "cmd",
                    ward_sys::controllers::Wants {
                        memory: true,
                        ..Default::default()
                    },
                )
                .map_err(|e| Failure::Failed(format!("cannot make the run's cgroup: {e}")))?;
            tree.memory = Some((controllers, unit));
            let (_, unit) = tree.memory.as_ref().expect("set above");
            unit.set_memory_max(Some(bytes))
                .map_err(|e| Failure::Failed(format!("cannot set the run's memory limit: {e}")))?;
        }
        ward_sys::become_subreaper()
            .map_err(|e| Failure::Failed(format!("cannot become a subreaper: {e}")))?;
        Ok(tree)
    }

    /// The `cgroup.procs` files the command joins.
    pub fn join_files(&self) -> Result<Vec<ward_sys::spawn::CgroupJoin>, Failure> {
        let mut files = Vec::new();
        if let Some((_, cg)) = &self.cgroup {
            files.push(
                cg.open_for_join()
                    .map_err(|e| Failure::Failed(format!("cannot join the run's cgroup: {e}")))?,
            );
        }
        if let Some((_, unit)) = &self.memory {
            let joined = self.cgroup.as_ref().map(|(_, cg)| cg.path());
            files.extend(unit.join_files(joined).map_err(|e| {
                Failure::Failed(format!("cannot join the run's memory cgroup: {e}"))
            })?);
        }
        Ok(files)
    }

    /// Sends `signal` to every process of the run; how many were reached.
    pub fn signal(&self, signal: Signal) -> usize {
        let in_cgroup = match &self.cgroup {
            Some((_, cg)) if signal == Signal::KILL => cg.kill_all().map(|()| 0).unwrap_or(0),
            Some((_, cg)) => cg.signal_all(signal).unwrap_or(0),
            None => 0,
        };
        in_cgroup.max(ward_sys::tree::signal_own_descendants(signal))
    }

    /// Ends what is left of the run once its main process is gone: SIGTERM, SIGKILL after
    /// `grace` (at once for a zero `grace`), everything reaped. How many were left.
    pub fn end(&self, grace: Duration) -> usize {
        let left = self.signal(if grace.is_zero() {
            Signal::KILL
        } else {
            Signal::TERM
        });
        if left == 0 {
            return 0;
        }
        let kill_at = Instant::now() + grace;
        let deadline = kill_at + Duration::from_secs(5);
        loop {
            while let Ok(Some(_)) = ward_sys::reap::reap_any() {}
            let now = Instant::now();
            let signal = if now >= kill_at {
                Signal::KILL
            } else {
                Signal::CONT
            };
            if self.signal(signal) == 0 || now >= deadline {
                break;
            }
            std::thread::sleep(TICK);
        }
        while let Ok(Some(_)) = ward_sys::reap::reap_any() {}
        left
    }
}

impl Drop for RunTree {
    fn drop(&mut self) {
        if let Some((driver, cg)) = &self.cgroup {
            let deadline = Instant::now() + Duration::from_secs(2);
            while cg
                .remove()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ResourceBusy)
                && Instant::now() < deadline
            {
                std::thread::sleep(TICK);
            }
            let _ = driver.remove_base();
        }
        if let Some((controllers, unit)) = &self.memory {
            unit.remove();
            controllers.remove_base();
        }
    }
}
