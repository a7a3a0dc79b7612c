//! `GET /metrics`: the status in Prometheus's text exposition format, for scrapers. Built
//! from the same snapshot as `GET /v1/status`, off the loop, with the `prometheus` crate's
//! encoder: one registry per scrape, since units come and go with reloads.

use std::collections::BTreeMap;

use prometheus::{CounterVec, Encoder, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use ward_api::{StatusResponse, UnitState};

/// The content type of the text format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Counts of each unit since the daemon started, by a label: crashes by class, automatic
/// restarts by the class of the end before each.
pub(crate) type Counts = BTreeMap<String, BTreeMap<&'static str, u64>>;

/// What `/metrics` needs besides the status: counts the status does not carry.
pub(crate) struct Extra {
    pub crashes: Counts,
    pub restarts: Counts,
}

/// `collector` registered in `r`, and handed back to be filled.
fn register<C: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    collector: C,
) -> prometheus::Result<C> {
    r.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// The metrics of `status`, encoded.
pub(crate) fn encode(status: &StatusResponse, extra: &Extra) -> prometheus::Result<Vec<u8>> {
    let r = Registry::new();
    let unit = &["unit", "service"];
    let gauge = |name: &str, help: &str, labels: &[&str]| {
        register(&r, GaugeVec::new(Opts::new(name, help), labels)?)
    };
    let int_gauge = |name: &str, help: &str, labels: &[&str]| {
        register(&r, IntGaugeVec::new(Opts::new(name, help), labels)?)
    };
    let counter = |name: &str, help: &str, labels: &[&str]| {
        register(&r, IntCounterVec::new(Opts::new(name, help), labels)?)
    };
    let up = int_gauge(
        "ward_service_up",
        "Whether the unit's main process runs (1) or not (0).",
        unit,
    )?;
    let state = int_gauge(
        "ward_service_state",
        "The unit's state: 1 for the one it is in, 0 for the others.",
        &["unit", "service", "state"],
    )?;
    let ready = int_gauge(
        "ward_service_ready",
        "Whether the unit is ready for its dependents.",
        unit,
    )?;
    let health = int_gauge(
        "ward_service_health",
        "Whether the unit's health check passes (1) or not (0); units without a check and without a run are left out.",
        unit,
    )?;
    let start_time = gauge(
        "ward_service_start_time_seconds",
        "When the unit's current or last process started, in seconds since the Unix epoch.",
        unit,
    )?;
    let restarts = counter(
        "ward_service_restarts_total",
        "Automatic restarts since the daemon started, by the class of the end before each.",
        &["unit", "service", "reason"],
    )?;
    let spawns = counter(
        "ward_service_spawns_total",
        "Successful spawns since the daemon started.",
        unit,
    )?;
    let failed_starts = counter(
        "ward_service_failed_starts_total",
        "Runs shorter than min_uptime, and exec failures, since the daemon started.",
        unit,
    )?;
    let crashed = counter(
        "ward_service_crashes_total",
        "Crashes since the daemon started, by ward's class of the end.",
        &["unit", "service", "class"],
    )?;
    let cpu = register(
        &r,
        CounterVec::new(
            Opts::new(
                "ward_service_cpu_seconds_total",
                "CPU time of the unit's processes at the last sample, user and system.",
            ),
            unit,
        )?,
    )?;
    let rss = int_gauge(
        "ward_service_memory_rss_bytes",
        "Resident memory of the unit's processes at the last sample.",
        unit,
    )?;
    let peak = int_gauge(
        "ward_service_memory_peak_rss_bytes",
        "The largest resident memory of the current run's samples.",
        unit,
    )?;
    let pss = int_gauge(
        "ward_service_memory_pss_bytes",
        "Proportional memory of the unit's processes at the last sample (sample_pss).",
        unit,
    )?;
    let threads = int_gauge(
        "ward_service_threads",
        "Threads of the unit's processes at the last sample.",
        unit,
    )?;
    let fds = int_gauge(
        "ward_service_open_fds",
        "Open descriptors of the unit's processes at the last sample.",
        unit,
    )?;
    let read = counter(
        "ward_service_io_read_bytes_total",
        "Bytes the unit's processes read from storage.",
        unit,
    )?;
    let written = counter(
        "ward_service_io_write_bytes_total",
        "Bytes the unit's processes wrote to storage.",
        unit,
    )?;
    let log_dropped = counter(
        "ward_service_log_dropped_bytes_total",
        "Output bytes of the unit dropped because the disk could not keep up.",
        unit,
    )?;
    for s in &status.services {
        let l = [s.name.as_str(), s.service.as_str()];
        up.with_label_values(&l).set(i64::from(s.pid.is_some()));
        for st in UnitState::ALL {
            state
                .with_label_values(&[s.name.as_str(), s.service.as_str(), st.as_str()])
                .set(i64::from(s.state == st));
        }
        ready.with_label_values(&l).set(i64::from(s.ready));
        if let Some(h) = &s.health {
            health.with_label_values(&l).set(i64::from(h == "healthy"));
        }
        if let Some(ms) = s.started_at_ms {
            start_time.with_label_values(&l).set(ms as f64 / 1000.0);
        }
        for (reason, n) in extra.restarts.get(&s.name).into_iter().flatten() {
            restarts
                .with_label_values(&[s.name.as_str(), s.service.as_str(), reason])
                .inc_by(*n);
        }
        spawns.with_label_values(&l).inc_by(s.spawns);
        failed_starts.with_label_values(&l).inc_by(s.failed_starts);
        log_dropped
            .with_label_values(&l)
            .inc_by(s.log_dropped_bytes);
        for (class, n) in extra.crashes.get(&s.name).into_iter().flatten() {
            crashed
                .with_label_values(&[s.name.as_str(), s.service.as_str(), class])
                .inc_by(*n);
        }
        if let Some(u) = &s.usage {
            cpu.with_label_values(&l).inc_by(u.cpu_seconds);
            rss.with_label_values(&l).set(u.memory_rss_bytes as i64);
            peak.with_label_values(&l)
                .set(u.memory_peak_rss_bytes as i64);
            if let Some(p) = u.memory_pss_bytes {
                pss.with_label_values(&l).set(p as i64);
            }
            threads.with_label_values(&l).set(u.threads as i64);
            fds.with_label_values(&l).set(u.fds as i64);
            read.with_label_values(&l).inc_by(u.read_bytes);
            written.with_label_values(&l).inc_by(u.write_bytes);
        }
    }
    // The daemon's own series, one value each.
    let d = &status.daemon;
    let one = |name: &str, help: &str, counter: bool, value: f64| -> prometheus::Result<()> {
        let opts = Opts::new(name, help);
        if counter {
            let c = prometheus::Counter::with_opts(opts)?;
            c.inc_by(value);
            r.register(Box::new(c))
        } else {
            let g = prometheus::Gauge::with_opts(opts)?;
            g.set(value);
            r.register(Box::new(g))
        }
    };
    one(
        "ward_units",
        "Units the daemon supervises.",
        false,
        status.services.len() as f64,
    )?;
    one(
        "ward_journal_dropped_total",
        "Journal records dropped because the journal could not keep up.",
        true,
        d.journal_dropped as f64,
    )?;
    one(
        "ward_journal_failed_total",
        "Journal records lost to failed writes.",
        true,
        d.journal_failed as f64,
    )?;
    one(
        "ward_daemon_start_time_seconds",
        "When the daemon started, in seconds since the Unix epoch.",
        false,
        d.started_at_ms as f64 / 1000.0,
    )?;
    let mut out = Vec::new();
    prometheus::TextEncoder::new().encode(&r.gather(), &mut out)?;
    Ok(out)
}
