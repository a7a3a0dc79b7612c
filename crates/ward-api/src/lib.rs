//! The control API's wire types and a small client, shared by the daemon and the CLI.
//!
//! The protocol is HTTP/1.1 with JSON bodies over the daemon's Unix socket; every path
//! starts with `/v1` so that a future incompatible change gets a new prefix instead of
//! silently breaking old CLIs. `docs/api.md` lists every endpoint.
#![forbid(unsafe_code)]

mod client;
pub mod escape;
pub mod timestamp;
mod types;
mod views;

pub use client::{Client, ClientError};
pub use types::*;
pub use views::*;

/// The largest request body the daemon accepts, in bytes.
pub const MAX_BODY: usize = 1 << 20;
