//! `ward.toml`: its model, its parser and every check made before anything starts.

mod command;
mod confine;
mod deps;
mod describe;
pub mod dotenv;
mod errors;
pub mod event_hooks;
mod fields;
mod files;
mod health;
mod model;
mod parse;
mod rare;
mod service;
mod settings;
mod size;
mod suggest;
mod supervisor;
mod tables;
mod task;
pub(crate) mod toml_text;
mod variables;
mod words;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use describe::{MASK, describe};
pub use errors::{ConfigError, ConfigErrors};
pub use model::*;
pub use parse::{MAX_FILE_SIZE, locate, parse};
pub use rare::{Rare, Unset};
pub use settings::*;
pub use size::{format_size, parse_size};
