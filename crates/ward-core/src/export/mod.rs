//! A ward config written for another engine (`ward export`): the files to write and every
//! setting that did not carry over, by service and key. Pure: the CLI writes the files
//! and prints the warnings.

pub mod calendar;
pub mod kubernetes;
pub mod systemd;
pub mod yaml;

/// What an export produces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    /// File name and content, in the order written.
    pub files: Vec<(String, String)>,
    /// One line per setting that did not carry over: `[services.web] health: …`.
    pub warnings: Vec<String>,
}
