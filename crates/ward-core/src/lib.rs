//! The pure heart of ward: everything that decides, nothing that does.
//!
//! No I/O, no clock, no async. The daemon turns real happenings into [`machine::Event`]s
//! and carries out the [`machine::Action`]s that come back, so every decision here can be
//! tested deterministically and exhaustively without a process or a sleep.
#![forbid(unsafe_code)]

pub mod access;
pub mod accounts;
pub mod budget;
pub mod caps;
pub mod classify;
pub mod config;
pub mod container;
pub mod deps;
pub mod dirs;
pub mod duration;
pub mod exit;
pub mod expand;
pub mod export;
pub mod health;
pub mod import;
pub mod machine;
pub mod notify;
pub mod oneshot;
pub mod ownership;
pub mod recovery;
pub mod sample;
pub mod schedule;
pub mod secrets;
pub mod signal;
pub mod timeouts;
pub mod triggers;

pub use exit::ExitStatus;
pub use signal::Signal;
