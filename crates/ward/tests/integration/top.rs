//! `ward top` used as a person uses it: run in tmux, keys sent, the screen read back.

use std::process::Command;

use crate::fixture::{Ward, external, testbin, wait_for};

/// A tmux server of the test's own, killed with everything in it when dropped.
struct Tmux {
    bin: std::path::PathBuf,
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.bin)
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn ward_top_in_tmux_shows_the_services_and_restarts_one() {
    let Some(bin) = external("tmux") else {
        return;
    };
    let testbin = testbin();
    let w = Ward::up(&format!(
        "[supervisor]\nsample_interval = \"200ms\"\n\
         [services.alpha]\ncommand = [\"{testbin}\", \"sleep\", \"300\"]\n\
         [services.beta]\ncommand = [\"{testbin}\", \"crash\", \"SEGV\"]\nrestart = \"never\"\n"
    ));
    let before = w.wait_state("alpha", "running").pid.expect("pid");
    w.wait_state("beta", "exited");
    let tmux = Tmux {
        bin,
        socket: format!("ward-top-test-{}", std::process::id()),
    };
    let command = format!(
        "{} -c {} top",
        crate::fixture::ward_bin(),
        w.config.display()
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "150",
        "-y",
        "30",
        &command,
    ]);
    assert!(started.status.success(), "{started:?}");
    // The services, their states, a crash and the columns.
    let screen = wait_for("the table", || {
        let s = tmux.screen();
        (s.contains("alpha") && s.contains("beta") && s.contains("segfault")).then_some(s)
    });
    assert!(
        screen.contains("NAME") && screen.contains("CPU") && screen.contains("MEM"),
        "{screen}"
    );
    assert!(
        screen.contains("running") && screen.contains("exited"),
        "{screen}"
    );
    // The first row (by name: alpha) is selected; `r` restarts it.
    tmux.keys(&["r"]);
    w.wait_unit("alpha", "a new run", |s| {
        s.state.as_str() == "running" && s.pid.is_some_and(|p| p != before)
    });
    wait_for("the restart's outcome on the screen", || {
        tmux.screen().contains("restart alpha: ").then_some(())
    });
    // Down to beta, and its why.
    tmux.keys(&["j", "w"]);
    let why = wait_for("beta's why", || {
        let s = tmux.screen();
        s.contains("why beta").then_some(s)
    });
    assert!(why.contains("SIGSEGV"), "{why}");
    tmux.keys(&["Escape", "q"]);
    wait_for("ward top to quit", || {
        (!tmux.run(&["has-session", "-t", "top"]).status.success()).then_some(())
    });
}

#[test]
fn ward_top_without_a_terminal_says_so() {
    let out = Command::new(crate::fixture::ward_bin())
        .args(["-c", "/nonexistent/ward.toml", "top"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ward top");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ward top needs a terminal"), "{stderr}");
}
