//! The README's promise: the bundled example runs, a killed service comes back, and
//! `ward down` leaves nothing behind.

use rustix::process::Signal;
use ward_api::UnitState;

use crate::fixture::{Ward, alive, kill};

#[test]
fn the_quickstart_example_runs_recovers_and_goes_down_cleanly() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/quickstart.toml"
    );
    let toml = std::fs::read_to_string(example).expect("examples/quickstart.toml");
    // The example's dashboard port, free or not on a test machine: any port here.
    assert!(toml.contains("http = \"127.0.0.1:9325\""), "{toml}");
    let w = Ward::up(&toml.replace("127.0.0.1:9325", "127.0.0.1:0"));
    let addr = w.status().daemon.http.expect("the dashboard's listener");
    let (code, page) = crate::fixture::exchange(
        std::net::TcpStream::connect(&addr).expect("connect"),
        b"GET / HTTP/1.1\r\nHost: ward\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);
    assert!(page.contains("<title>ward</title>"), "{page}");
    let names = ["clock", "web.0", "web.1", "worker"];
    let status = w.wait_all_running("every example service running");
    let listed: Vec<&str> = status.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(listed, names);

    let clock = w.unit("clock").pid.expect("pid");
    kill(clock, Signal::KILL);
    let back = w.wait_unit("clock", "back with a new pid", |s| {
        s.state == UnitState::Running && s.pid.is_some_and(|p| p != clock)
    });
    assert_eq!(
        back.last_exit.expect("exit").description,
        "killed by SIGKILL"
    );

    // web forks a helper into its own session; it must be found and stopped too.
    let before = w.processes_here();
    assert!(before.len() >= 6, "{before:?}");
    let out = w.ok(&["down"]);
    assert!(out.contains("ward is down"), "{out}");
    assert!(before.iter().all(|&p| !alive(p)));
    assert!(w.processes_here().is_empty(), "{:?}", w.processes_here());
}
