//! The config is read from a regular file of at most 16 MiB only, by the CLI and by the
//! daemon: a FIFO or a device at the config's path never blocks or floods either.

use std::path::PathBuf;
use std::process::Command;

use rustix::process::Signal;

use crate::fixture::{Ward, bounded, kill, reaped, testbin, wait_for, ward_bin};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Points the fixture's CLI at a second config beside the daemon's (empty: the same
/// default state dir, so the same daemon), and returns the daemon's own config path. The
/// CLI refuses what is put at that path as well, so without this the request would never
/// reach the daemon.
fn cli_beside(w: &mut Ward) -> PathBuf {
    let beside = w.dir.path().join("beside.toml");
    std::fs::write(&beside, "").expect("write");
    std::mem::replace(&mut w.config, beside)
}

#[test]
fn reload_of_a_fifo_is_refused_while_the_daemon_goes_on_supervising() {
    let mut w = Ward::up(&format!(
        "[services.s]\ncommand = [\"{}\", \"sleep\", \"300\"]\n",
        testbin()
    ));
    let first = w.wait_state("s", "running").pid.expect("pid");
    let config = cli_beside(&mut w);
    std::fs::remove_file(&config).expect("remove the config");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &config,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    // An older daemon blocked its only task in the read of this FIFO, for good.
    let out = bounded(w.cli_command(&["reload"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{} is not a regular file (a FIFO); ward reads its config only from a regular file",
            config.display()
        )),
        "{}",
        stderr(&out)
    );
    // It still supervises: a killed service is reaped and started again.
    kill(first, Signal::KILL);
    let again = w.wait_unit("s", "started again", |s| {
        s.pid.is_some_and(|p| p != first) && s.state.as_str() == "running"
    });
    assert!(reaped(first), "the killed service stayed a zombie");

    // A device, through a symbolic link, is not read either, on SIGHUP neither.
    std::fs::remove_file(&config).expect("remove the FIFO");
    std::os::unix::fs::symlink("/dev/zero", &config).expect("symlink");
    let out = bounded(w.cli_command(&["reload"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a regular file (a character device)"),
        "{}",
        stderr(&out)
    );
    kill(w.daemon_pid(), Signal::HUP);
    wait_for("the refused SIGHUP reload in the daemon's log", || {
        let log = w.daemon_log();
        (log.matches("(a character device)").count() >= 2).then_some(())
    });
    assert_eq!(
        w.unit("s").pid,
        again.pid,
        "a refused reload changed nothing"
    );
}

#[test]
fn check_refuses_dev_zero_at_once() {
    // An older CLI read it to the end: 8.4 GB in 6 s.
    let mut cmd = Command::new(ward_bin());
    cmd.args(["-c", "/dev/zero", "check"]);
    let out = bounded(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "ward: /dev/zero is not a regular file (a character device); ward reads its config only from a regular file\n"
    );
}

#[test]
fn a_config_over_16_mib_is_refused() {
    let mut w = Ward::up("");
    let big = w.dir.path().join("big.toml");
    // Sparse: nothing is written to disk.
    std::fs::File::create(&big)
        .expect("create")
        .set_len((16 << 20) + 1)
        .expect("set_len");
    let mut cmd = Command::new(ward_bin());
    cmd.arg("-c").arg(&big).arg("check");
    let out = bounded(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = "is larger than 16 MiB (16777217 bytes); ward reads a config of at most 16 MiB";
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));

    // The daemon refuses it on reload too, and keeps the config it has.
    let config = cli_beside(&mut w);
    std::fs::rename(&big, &config).expect("rename");
    let out = bounded(w.cli_command(&["reload"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    assert!(w.status().services.is_empty());
}
