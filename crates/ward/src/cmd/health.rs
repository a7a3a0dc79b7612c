//! `ward health --ready | --live`: an orchestrator's exec probe. Exit 0 when the daemon
//! says so, 1 otherwise (not ready, or no daemon answers), with the reason on stderr.

use ward_core::config::SupervisorConfig;

use crate::client::{self, Method, Timeout};
use crate::exit::{FAILED, Failure, OK};
use crate::out::outln;

pub fn health(sup: &SupervisorConfig, ready: bool, timeout: Timeout) -> Result<i32, Failure> {
    let (path, word) = if ready {
        ("/readyz", "ready")
    } else {
        ("/livez", "live")
    };
    match client::call::<ward_api::Ack>(&sup.socket, Method::<()>::Get(path), timeout) {
        Ok(_) => {
            outln!("{word}")?;
            Ok(OK)
        }
        // A probe answers yes or no: any reason it cannot say yes is a no.
        Err(Failure::Failed(why) | Failure::NotRunning(why) | Failure::Usage(why)) => {
            eprintln!("ward: not {word}: {why}");
            Ok(FAILED)
        }
        Err(e) => Err(e),
    }
}
