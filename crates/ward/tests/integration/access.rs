//! `api_group` and `api_readers`: members of the one may ask anything, of the other only
//! the status; anyone else is refused, and every refusal is in the audit trail. The
//! clients are the real CLI run as `nobody` by `setpriv`, with the groups each case needs
//! (no group is created: `users` and `adm` are Debian's own).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Output;

use crate::fixture::{Ward, external, testbin, wait_for};

/// `ward ARGS` as uid 65534 in `groups` (and no others).
fn as_nobody(w: &Ward, setpriv: &str, groups: &str, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534"]);
    if groups.is_empty() {
        cmd.arg("--clear-groups");
    } else {
        cmd.arg(format!("--groups={groups}"));
    }
    cmd.arg(crate::fixture::ward_bin())
        .arg("-c")
        .arg(&w.config)
        .args(["--timeout", "10s"])
        .args(args);
    crate::fixture::bounded(cmd)
}

#[test]
fn ops_may_act_readers_may_look_and_others_are_refused_and_recorded() {
    let Some(setpriv) = external("setpriv") else {
        return;
    };
    let setpriv = setpriv.to_str().expect("path").to_string();
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: running clients as another user needs root");
        return;
    }
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[supervisor]\napi_group = \"users\"\napi_readers = \"adm\"\n\
         [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    // The CLI reads the config as nobody; the temp dir lets it through.
    fs::set_permissions(w.dir.path(), fs::Permissions::from_mode(0o711)).expect("chmod");
    fs::set_permissions(&w.config, fs::Permissions::from_mode(0o644)).expect("chmod");
    w.start_daemon();
    let before = w.wait_state("s", "running");
    // With readers, the socket is open to anyone: the daemon judges each peer itself.
    let sock = fs::metadata(w.dir.path().join(".ward/ward.sock")).expect("socket");
    assert_eq!(sock.mode() & 0o777, 0o666);
    let state = fs::metadata(w.dir.path().join(".ward")).expect("state dir");
    assert_eq!(state.mode() & 0o777, 0o711);

    // A reader sees the status, and may not stop.
    let out = as_nobody(&w, &setpriv, "4", &["status", "s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("running"));
    let out = as_nobody(&w, &setpriv, "4", &["stop", "s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("uid 65534 may only read (api_readers), not stop"),
        "{stderr}"
    );
    assert_eq!(w.unit("s").pid, before.pid);

    // A stranger is refused at the door.
    let out = as_nobody(&w, &setpriv, "", &["status"]);
    assert!(!out.status.success());

    // A member of api_group may act.
    let out = as_nobody(&w, &setpriv, "100", &["restart", "s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.wait_unit("s", "a new run", |s| s.pid.is_some() && s.pid != before.pid);

    // Every one of them is in the trail, with its uid.
    let records: Vec<serde_json::Value> = wait_for("the refusals in the trail", || {
        let out = w.ok(&["audit", "--json"]);
        let r: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json");
        (r.iter().filter(|e| e["kind"] == "refused").count() >= 2).then_some(r)
    });
    let refused: Vec<&serde_json::Value> =
        records.iter().filter(|e| e["kind"] == "refused").collect();
    assert!(
        refused.iter().all(|e| e["peer"]["uid"] == 65534),
        "{refused:?}"
    );
    assert!(
        refused.iter().any(|e| e["why"]
            .as_str()
            .is_some_and(|w| w.contains("nor in api_group"))),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|e| e["why"].as_str().is_some_and(|w| w.contains("not stop"))),
        "{refused:?}"
    );
    assert!(
        records
            .iter()
            .any(|e| e["kind"] == "action" && e["what"] == "restart" && e["peer"]["uid"] == 65534),
        "{records:?}"
    );
}

#[test]
fn api_group_alone_opens_the_socket_to_that_group_only() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[supervisor]\napi_group = \"users\"\n\
         [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    w.start_daemon();
    let sock = fs::metadata(w.dir.path().join(".ward/ward.sock")).expect("socket");
    assert_eq!((sock.mode() & 0o777, sock.gid()), (0o660, 100));
}

#[test]
fn a_group_that_does_not_exist_is_refused_by_check_and_up() {
    let bin = testbin();
    let w = Ward::new(&format!(
        "[supervisor]\napi_group = \"no-such-group-ward\"\n\
         [services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    let out = w.cli(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("api_group = \"no-such-group-ward\": no group of that name"),
        "{stderr}"
    );
    let up = w.up_refused();
    assert!(String::from_utf8_lossy(&up.stderr).contains("no group of that name"));
    assert!(!w.dir.path().join(".ward/ward.sock").exists());
}

/// `ward run` gives no one a privilege: a caller who may not write the trail runs
/// unrecorded, and is told so.
#[test]
fn a_ward_run_by_another_user_runs_unrecorded_and_says_so() {
    let Some(setpriv) = external("setpriv") else {
        return;
    };
    let setpriv = setpriv.to_str().expect("path").to_string();
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: running the CLI as another user needs root");
        return;
    }
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.s]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n"
    ));
    fs::set_permissions(w.dir.path(), fs::Permissions::from_mode(0o711)).expect("chmod");
    fs::set_permissions(&w.config, fs::Permissions::from_mode(0o644)).expect("chmod");
    w.start_daemon();
    w.wait_state("s", "running");
    let out = as_nobody(
        &w,
        &setpriv,
        "",
        &["run", "--", "/bin/sh", "-c", "cd /; id -u"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n");
    assert!(
        stderr.contains("this run is not recorded") && stderr.contains("ward's user only"),
        "{stderr}"
    );
    let trail = fs::read_to_string(w.dir.path().join(".ward/audit.jsonl")).expect("trail");
    assert!(!trail.contains("\"kind\":\"run\""), "{trail}");
}
