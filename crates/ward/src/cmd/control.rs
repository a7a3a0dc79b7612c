//! `ward start|stop|restart|signal|reload|down`: requests that change something.

use std::time::{Duration, Instant};

use ward_api::{Ack, ActionResponse, ReloadResponse, Selection, SignalRequest};
use ward_core::config::SupervisorConfig;

use crate::cli::Targets;
use crate::client::{self, Empty, Method, Timeout};
use crate::exit::{FAILED, Failure, OK};
use crate::out::{self, outln};

/// How long `ward down` waits for the daemon process to be gone after it answered.
const DOWN_GRACE: Duration = Duration::from_secs(10);

pub fn action(
    sup: &SupervisorConfig,
    verb: &str,
    targets: &Targets,
    timeout: Timeout,
) -> Result<i32, Failure> {
    if targets.names.is_empty() && !targets.all {
        return Err(Failure::Usage(format!(
            "name the services to {verb}, or use --all"
        )));
    }
    let body = Selection {
        names: targets.names.clone(),
        all: targets.all,
    };
    let resp: ActionResponse = client::call(
        &sup.socket,
        Method::Post(&format!("/v1/{verb}"), body),
        timeout,
    )?;
    print_results(&resp, targets.json)
}

pub fn signal(
    sup: &SupervisorConfig,
    name: String,
    signal: String,
    timeout: Timeout,
) -> Result<i32, Failure> {
    let body = SignalRequest {
        selection: Selection {
            names: vec![name],
            all: false,
        },
        signal,
    };
    let resp: ActionResponse =
        client::call(&sup.socket, Method::Post("/v1/signal", body), timeout)?;
    print_results(&resp, false)
}

fn print_results(resp: &ActionResponse, json: bool) -> Result<i32, Failure> {
    if json {
        out::json(resp)?;
    } else {
        for r in &resp.results {
            outln!("{}: {}", r.name, r.message)?;
        }
    }
    Ok(if resp.results.iter().all(|r| r.ok) {
        OK
    } else {
        FAILED
    })
}

pub fn reload(sup: &SupervisorConfig, json: bool, timeout: Timeout) -> Result<i32, Failure> {
    let resp: ReloadResponse =
        client::call(&sup.socket, Method::Post("/v1/reload", Empty {}), timeout)?;
    if json {
        out::json(&resp)?;
        return Ok(OK);
    }
    for (label, names) in [
        ("added", &resp.added),
        ("removed", &resp.removed),
        ("changed", &resp.changed),
        ("unchanged", &resp.unchanged),
    ] {
        if !names.is_empty() {
            outln!("{label}: {}", names.join(", "))?;
        }
    }
    for w in &resp.warnings {
        outln!("warning: {w}")?;
    }
    Ok(OK)
}

/// Stops everything, then waits until the daemon has released its state dir, so that a
/// `ward up` right after cannot find it still locked.
pub fn down(sup: &SupervisorConfig, timeout: Timeout) -> Result<i32, Failure> {
    let _: Ack = client::call(&sup.socket, Method::Post("/v1/shutdown", Empty {}), timeout)?;
    let pid_file = sup.state_dir.join("ward.pid");
    let deadline = Instant::now() + DOWN_GRACE;
    while pid_file.exists() {
        if Instant::now() > deadline {
            return Err(Failure::Failed(format!(
                "every service stopped, but the daemon still holds {}",
                pid_file.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    outln!("ward is down")?;
    Ok(OK)
}
