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

/// What did not carry over for one service: the warnings for stderr, and the comments for
/// the file it concerns.
pub(crate) struct Notes<'a> {
    service: &'a str,
    /// Comments name the service too: for a file that holds several (a Pod).
    qualified: bool,
    pub lines: Vec<String>,
    pub comments: Vec<String>,
}

impl<'a> Notes<'a> {
    pub fn new(service: &'a str, qualified: bool) -> Notes<'a> {
        Notes {
            service,
            qualified,
            lines: Vec::new(),
            comments: Vec::new(),
        }
    }

    /// `key` did not carry over, for this reason.
    pub fn not(&mut self, key: &str, why: &str) {
        let place = format!("[services.{}] {key}", self.service);
        self.comments.push(if self.qualified {
            format!("not carried over: {place}: {why}")
        } else {
            format!("not carried over: {key}: {why}")
        });
        self.lines.push(format!("{place}: {why}"));
    }
}
