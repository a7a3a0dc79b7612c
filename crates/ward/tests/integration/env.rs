//! A service's environment: `env_file` (dotenv files, errors with file:line), `env` over
//! them, and `inherit_env` from the daemon's own environment; nothing else leaks in.

use std::fs;

use crate::fixture::{Ward, testbin};

/// The environment of a running process, as the kernel has it.
fn environ(pid: u32) -> Vec<String> {
    fs::read(format!("/proc/{pid}/environ"))
        .expect("environ")
        .split(|&b| b == 0)
        .filter(|kv| !kv.is_empty())
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect()
}

#[test]
fn env_files_env_and_inherited_variables_make_the_environment() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\n\
         env_file = [\"base.env\", \"web.env\"]\nenv = {{ A = \"config\" }}\n\
         inherit_env = [\"WARD_TEST_PASSED\", \"WARD_TEST_UNSET\"]\n"
    ));
    let d = w.dir.path();
    fs::write(
        d.join("base.env"),
        "# shared\nA=file\nexport B=base\nQ=\"two words \\\"quoted\\\"\"\nL='$HOME stays'\n",
    )
    .expect("base.env");
    fs::write(d.join("web.env"), "B=web\n").expect("web.env");
    w.start_daemon_with_env(&[("WARD_TEST_PASSED", "yes"), ("WARD_TEST_KEPT", "no")]);
    let pid = w.wait_state("web", "running").pid.expect("pid");
    let env = environ(pid);
    for want in [
        "A=config",
        "B=web",
        "Q=two words \"quoted\"",
        "L=$HOME stays",
        "WARD_TEST_PASSED=yes",
    ] {
        assert!(env.iter().any(|kv| kv == want), "{want} not in {env:?}");
    }
    // Only what was named is inherited.
    assert!(
        !env.iter().any(|kv| kv.starts_with("WARD_TEST_KEPT=")),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|kv| kv.starts_with("WARD_TEST_UNSET=")),
        "{env:?}"
    );
}

#[test]
fn a_bad_env_file_is_refused_with_its_file_and_line() {
    let bin = testbin();
    let w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nenv_file = \"web.env\"\n"
    ));
    let d = w.dir.path().to_path_buf();
    let file = d.join("web.env");
    let cases: Vec<(Box<dyn Fn()>, String)> = vec![
        (
            Box::new({
                let file = file.clone();
                move || fs::write(&file, "A=1\n\nnot a pair\n").expect("write")
            }),
            format!(
                "[services.web] env_file: {}:3: `not a pair` is not KEY=VALUE",
                file.display()
            ),
        ),
        (
            Box::new({
                let file = file.clone();
                move || fs::write(&file, "WARD_UNIT=x\n").expect("write")
            }),
            format!(
                "{}:1: `WARD_UNIT` is set by ward and cannot be overridden",
                file.display()
            ),
        ),
        (
            Box::new({
                let file = file.clone();
                move || fs::remove_file(&file).expect("remove")
            }),
            format!("cannot read {}: No such file or directory", file.display()),
        ),
        (
            Box::new({
                let file = file.clone();
                move || {
                    let made = std::process::Command::new("mkfifo")
                        .arg(&file)
                        .status()
                        .expect("mkfifo");
                    assert!(made.success());
                }
            }),
            format!(
                "cannot read {}: it is not a regular file (a FIFO)",
                file.display()
            ),
        ),
    ];
    for (make, want) in cases {
        make();
        let out = w.cli(&["check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&want), "{want}\n{stderr}");
    }
}

#[test]
fn a_reload_with_a_bad_env_file_changes_nothing() {
    let bin = testbin();
    let mut w = Ward::new(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\nenv_file = \"web.env\"\n"
    ));
    let file = w.dir.path().join("web.env");
    fs::write(&file, "A=1\n").expect("write");
    w.start_daemon();
    let pid = w.wait_state("web", "running").pid;
    fs::write(&file, "A='unterminated\n").expect("write");
    let out = w.cli(&["reload"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:1: unterminated single quote", file.display())),
        "{stderr}"
    );
    assert_eq!(w.unit("web").pid, pid);
    // A good change restarts the service with the new environment.
    fs::write(&file, "A=2\n").expect("write");
    w.ok(&["reload"]);
    let new = w.wait_unit("web", "a new run", |s| s.pid.is_some() && s.pid != pid);
    assert!(environ(new.pid.expect("pid")).iter().any(|kv| kv == "A=2"));
}

/// `port_base`: each instance gets its own `PORT`, and a clash is refused at the key.
#[test]
fn port_base_gives_each_instance_its_port() {
    let bin = testbin();
    let w = Ward::up(&format!(
        "[services.web]\ncommand = [\"{bin}\", \"sleep\", \"300\"]\ninstances = 3\nport_base = 8100\n"
    ));
    for i in 0..3u32 {
        let pid = w
            .wait_state(&format!("web.{i}"), "running")
            .pid
            .expect("pid");
        let vars = environ(pid);
        let want = format!("PORT={}", 8100 + i);
        assert!(vars.contains(&want), "{want} not in {vars:?}");
    }
    for (toml, says) in [
        (
            "[services.s]\ncommand = \"/bin/true\"\ninstances = 10\nport_base = 65530\n",
            "reaches port 65539, past 65535",
        ),
        (
            "[services.s]\ncommand = \"/bin/true\"\nport_base = 80\nenv = { PORT = \"81\" }\n",
            "sets `PORT` in `env` and has `port_base`",
        ),
    ] {
        let w = Ward::new(toml);
        let out = w.cli(&["check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{says} not in {stderr}");
    }
}

#[test]
fn variables_are_expanded_in_command_and_env_without_a_shell() {
    let w = crate::fixture::Ward::new(
        "[services.api]\n\
         command = [\"/bin/sh\", \"-c\", \"echo \\\"port=$0 id=$1 url=$URL lit=$2 pid=$$\\\" > out.$1; exec sleep 300\", \"${PORT}\", \"${WARD_INSTANCE}\", \"$${KEPT}\"]\n\
         instances = 2\nport_base = 9100\nenv_file = \"api.env\"\n\
         env = { URL = \"http://${REGION}/${WARD_SERVICE}\" }\n",
    );
    std::fs::write(w.dir.path().join("api.env"), "REGION=eu-west\n").unwrap();
    let mut w = w;
    w.start_daemon();
    for i in 0..2 {
        let out = crate::fixture::wait_for(&format!("out.{i}"), || {
            std::fs::read_to_string(w.dir.path().join(format!("out.{i}")))
                .ok()
                .filter(|t| t.ends_with('\n'))
        });
        let pid = w.wait_state(&format!("api.{i}"), "running").pid.unwrap();
        assert_eq!(
            out.trim(),
            format!(
                "port={} id={i} url=http://eu-west/api lit=${{KEPT}} pid={pid}",
                9100 + i
            )
        );
    }
}

#[test]
fn an_unknown_variable_is_refused_with_its_place() {
    let w = crate::fixture::Ward::new(
        "[services.api]\ncommand = [\"/bin/app\", \"--db=${DB_URL}\"]\nenv_file = \"api.env\"\n",
    );
    std::fs::write(w.dir.path().join("api.env"), "OTHER=1\n").unwrap();
    let out = w.cli(&["check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("ward.toml").count(), 1, "{err}");
    assert!(
        err.contains("ward.toml:2:30: [services.api] command: unknown variable `${DB_URL}`"),
        "{err}"
    );
}
