//! `ward`: the daemon (`ward up`) and the command line that talks to it.
#![forbid(unsafe_code)]

mod cli;
mod client;
mod cmd;
mod exit;
mod out;
mod table;

use clap::Parser;

use crate::exit::Failure;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cmd::run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`ward status | head -1`): it has what it
        // wanted, which is no failure of ward. End quietly with 0, as ripgrep does.
        Err(Failure::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(failure) => {
            failure.print();
            failure.code()
        }
    };
    std::process::exit(code);
}
