//! The ward daemon: one task that owns every service, fed by signals, timers and the
//! control socket.
//!
//! `run` takes the lock on the state dir, becomes the subreaper, binds the socket and hands
//! over to [`supervisor::Supervisor`], which turns each real happening into a
//! [`ward_core::machine::Event`] and carries out the actions that come back. There is no
//! shared mutable state: the API server talks to the supervisor through a channel, one
//! request at a time, each with its own reply.
#![forbid(unsafe_code)]

mod adopt;
mod api;
mod audit;
mod backups;
mod contain;
mod container;
mod deps;
mod event_hooks;
mod events;
mod footprint;
mod handlers;
mod health;
mod hooks;
mod http;
mod http_probe;
mod journal;
mod launch;
mod lifecycle;
mod log_tail;
pub mod logs;
mod metrics;
mod notify;
mod own_files;
mod persist;
mod private_tmp;
mod proc_states;
mod programs;
mod query;
mod reload;
mod requests;
mod routes;
mod sampling;
mod schedules;
mod serving;
mod sessions;
mod setup;
mod shutdown;
mod snapshots;
mod spawning;
mod startup;
pub mod stats;
mod status_answer;
mod supervisor;
mod timers;
mod turns;
mod unit;
mod verdicts;
mod views;
pub mod web;
pub mod why;
mod wire;

use std::fs::File;
use std::path::PathBuf;

use ward_core::config::Config;

pub use startup::{
    StartError, check_access, check_descriptors, check_dirs, check_programs, finish_loading,
};

pub use requests::Command;
/// How the control API turns a request into a [`Command`]: a pure function, public for
/// the fuzz targets in `fuzz/`.
pub use routes::{Refusal, decode};

/// What `ward up` hands the daemon.
#[derive(Debug)]
pub struct Options {
    /// The config file, re-read on reload.
    pub config_path: PathBuf,
    /// The config already parsed and checked from `config_path`.
    pub config: Config,
    /// `ward up -d`: the pipe on which to say `ok` once the socket answers, or why not.
    pub ready: Option<File>,
    /// `ward up --init` (or ward is PID 1): a container's init. SIGQUIT stops everything
    /// as SIGTERM does, and a second SIGTERM kills what is left.
    pub init: bool,
}

/// Runs the daemon until it is told to stop and every service is down, and returns the
/// code to exit with (`exit_code`).
///
/// Errors are the fatal ones only (lock held, socket not bindable, runtime failure); a
/// service that cannot start is an event, never a reason to stop.
pub fn run(options: Options) -> Result<i32, StartError> {
    startup::run(options)
}
