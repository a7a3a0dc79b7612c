//! ward's integration tests: the real binary, real processes, real signals and sockets.
//! Each test has its own temp dir and daemon and may run in parallel with the others.

mod access;
mod adopt;
mod api;
mod audit;
mod check;
mod config_file;
mod confine;
mod daemon;
mod deps;
mod descriptors;
mod env;
mod fixture;
mod health;
mod host;
mod journal;
mod logs;
mod metrics;
mod notify_clients;
mod oom_race;
mod pid;
mod pipes;
mod quickstart;
mod reap;
mod recovery;
mod reload;
mod restart;
mod run;
mod sampling;
mod scale;
mod secrets;
mod socket;
mod state_dir;
mod stop;
mod terminal;
mod why;
