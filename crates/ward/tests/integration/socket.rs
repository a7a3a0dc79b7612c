//! The socket and the CLI under careless and hostile use: a daemon that does not answer,
//! clients that hold connections open.

use rustix::process::Signal;

use crate::fixture::{Ward, bounded, kill};

/// Sends SIGCONT when dropped, so that the fixture can stop the daemon whatever failed.
struct Continue(u32);

impl Drop for Continue {
    fn drop(&mut self) {
        kill(self.0, Signal::CONT);
    }
}

#[test]
fn the_cli_gives_up_on_a_stopped_daemon() {
    let w = Ward::up("");
    let daemon = w.daemon_pid();
    kill(daemon, Signal::STOP);
    let _cont = Continue(daemon);
    // An older CLI waited here forever.
    let out = bounded(w.cli_command(&["--timeout", "1s", "status"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let socket = w.dir.path().join(".ward/ward.sock");
    assert!(
        stderr.starts_with(&format!(
            "ward: no answer from the ward daemon on {} within 1s\n  hint: a daemon that is stopped (SIGSTOP)",
            socket.display()
        )),
        "{stderr}"
    );
    let out = bounded(w.cli_command(&["stop", "--all", "--timeout", "500ms"]));
    assert_eq!(out.status.code(), Some(3));
    kill(daemon, Signal::CONT);
    assert!(
        w.status().services.is_empty(),
        "it answers once it runs again"
    );
}
