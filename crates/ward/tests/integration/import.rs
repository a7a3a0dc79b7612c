//! `ward import`: supervisord's own sample config (as `echo_supervisord_conf` prints it,
//! its example program switched on) with an `[include]`, and a Procfile with a release
//! phase, become configs that `ward check` accepts and `ward up` runs.

use std::process::Command;

use crate::fixture::{Ward, bounded, external};

/// Imports with the CLI and returns the config's text; warnings go to the test's output.
fn import(w: &Ward, args: &[&str]) -> String {
    let out = w.cli(args);
    assert!(out.status.success(), "{out:?}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn supervisords_sample_config_with_an_include_runs_under_ward() {
    let Some(echo) = external("echo_supervisord_conf") else {
        return;
    };
    let sample = String::from_utf8(bounded(Command::new(echo)).stdout).unwrap();
    // Its example program, switched on, running something that stays up; its user
    // (`chrism`) does not exist here.
    let mut in_program = false;
    let mut conf = String::new();
    for line in sample.lines() {
        if line.starts_with(";[program:theprogramname]") {
            in_program = true;
        } else if in_program && !line.starts_with(';') {
            in_program = false;
        }
        let line = if in_program {
            line.trim_start_matches(';')
        } else {
            line
        };
        if line.starts_with("user=") {
            continue;
        }
        let line = if line.starts_with("command=") {
            "command=/bin/sleep 300 ; stays up"
        } else {
            line
        };
        conf.push_str(line);
        conf.push('\n');
    }
    conf.push_str("\n[include]\nfiles = conf.d/*.conf\n");
    let w = Ward::new("");
    let dir = w.dir.path();
    // The import writes the config itself.
    std::fs::remove_file(dir.join("ward.toml")).unwrap();
    std::fs::create_dir(dir.join("conf.d")).unwrap();
    std::fs::write(dir.join("supervisord.conf"), &conf).unwrap();
    std::fs::write(
        dir.join("conf.d/worker.conf"),
        "[program:worker]\ncommand=/bin/sh -c \"echo %(program_name)s in %(ENV_HOME)s; exec sleep 300\"\n\
         numprocs=2\nprocess_name=%(program_name)s_%(process_num)02d\nautorestart=true\npriority=1000\n",
    )
    .unwrap();
    let out = w.cli(&[
        "import",
        "supervisord",
        dir.join("supervisord.conf").to_str().unwrap(),
        "-o",
        dir.join("ward.toml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let warnings = String::from_utf8_lossy(&out.stderr);
    for named in [
        "[program:theprogramname] stdout_logfile:",
        "[program:theprogramname] serverurl:",
    ] {
        assert!(warnings.contains(named), "{named}: {warnings}");
    }
    let toml = std::fs::read_to_string(dir.join("ward.toml")).unwrap();
    assert!(toml.contains("stop_signal = \"QUIT\""), "{toml}");
    assert!(
        toml.contains("# not carried over: stdout_logfile = /a/path"),
        "{toml}"
    );
    // An existing file is never written over.
    let again = w.cli(&[
        "import",
        "supervisord",
        dir.join("supervisord.conf").to_str().unwrap(),
        "-o",
        dir.join("ward.toml").to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    let check = w.cli(&["check"]);
    assert!(check.status.success(), "{check:?}\n{toml}");
    // And it runs: the program, and both instances of the included one, HOME passed on.
    let mut w = w;
    w.start_daemon_with_env(&[("HOME", "/root")]);
    w.wait_state("theprogramname", "running");
    w.wait_state("worker.0", "running");
    w.wait_state("worker.1", "running");
    crate::fixture::wait_for("the worker's line", || {
        w.log("worker.1").contains("worker in /root").then_some(())
    });
}

#[test]
fn a_procfile_with_a_release_phase_runs_under_ward() {
    let w = Ward::new("");
    let dir = w.dir.path();
    std::fs::write(
        dir.join("Procfile"),
        "release: echo migrated > released\nweb: test -f released && echo \"web on $PORT\" && exec sleep 300\nworker: echo \"worker $GREETING\" && exec sleep 300\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "GREETING=hello\n").unwrap();
    let toml = import(
        &w,
        &[
            "import",
            "procfile",
            dir.join("Procfile").to_str().unwrap(),
            "--env",
            ".env",
        ],
    );
    std::fs::write(dir.join("ward.toml"), &toml).unwrap();
    let mut w = w;
    w.start_daemon();
    w.wait_state("release", "completed");
    let web = w.wait_state("web", "running");
    assert_eq!(web.spawns, 1, "web waited for the release phase");
    crate::fixture::wait_for("web's port", || {
        w.log("web").contains("web on 5000").then_some(())
    });
    crate::fixture::wait_for("the worker's .env", || {
        w.log("worker").contains("worker hello").then_some(())
    });
}

#[test]
fn a_pm2_ecosystem_file_runs_under_ward() {
    let w = Ward::new("");
    let dir = w.dir.path();
    std::fs::write(
        dir.join("web.sh"),
        "echo \"$GREETING from $WARD_SERVICE\"\nexec sleep \"$1\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ecosystem.config.js"),
        "// as pm2's documentation writes it\nmodule.exports = {\n  apps: [{\n    name: 'web',\n    script: './web.sh',\n    args: '300',\n    env: { GREETING: 'hello' },\n    watch: true,\n  }],\n};\n",
    )
    .unwrap();
    let out = w.cli(&[
        "import",
        "pm2",
        dir.join("ecosystem.config.js").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("apps[0] (web) watch:"),
        "{out:?}"
    );
    std::fs::write(dir.join("ward.toml"), &out.stdout).unwrap();
    let mut w = w;
    w.start_daemon();
    w.wait_state("web", "running");
    crate::fixture::wait_for("web's greeting", || {
        w.log("web").contains("hello from web").then_some(())
    });
}
