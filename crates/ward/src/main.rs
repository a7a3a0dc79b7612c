//! `ward`: the daemon (`ward up`) and the command line that talks to it.
#![forbid(unsafe_code)]

mod cli;
mod client;
mod cmd;
mod exit;
mod table;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(failure) => {
            failure.print();
            failure.code()
        }
    };
    std::process::exit(code);
}
