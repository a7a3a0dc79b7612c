//! `ward export systemd`: units that systemd's own checker accepts, with every setting
//! that does not carry over named; `--self`, and `ward up` saying `READY=1` to systemd.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use crate::fixture::{Ward, bounded, external};

const CONFIG: &str = r#"
[services.db]
command = ["/bin/sleep", "300"]
port_base = 5432
ready = "notify"
watchdog = "30s"
stop_signal = "INT"
stop_timeout = "20s"
memory_max = "256MiB"
cpu_max = "50%"
pids_max = 64
rlimits = { nofile = 4096, core = 0 }
cwd = "/"
private_tmp = true
capabilities = ["CAP_NET_BIND_SERVICE"]
[services.web]
command = ["/bin/sh", "-c", "echo port ${PORT} id ${WARD_INSTANCE} pid $$ 100%; exec sleep 300"]
instances = 2
port_base = 8000
depends_on = { db = "started", migrate = "completed" }
env = { GREETING = "hello \"world\"", URL = "http://${HOST}/" }
inherit_env = ["HOST"]
restart = "on-failure"
backoff = { initial = "500ms", max = "1m" }
start_limit = { burst = 3, interval = "30s" }
kill_mode = "main"
health = { http = "http://127.0.0.1:8000/healthz" }
pre_start = ["/bin/true"]
post_stop = ["/bin/true"]
recovery = { segfault = "give_up" }
[services.migrate]
command = ["/bin/true"]
user = "daemon"
group = "daemon"
type = "oneshot"
remain_after_exit = true
success_exit_codes = [3]
[services.report]
command = ["/bin/true"]
type = "oneshot"
schedule = "30 3 * * MON-FRI"
timezone = "UTC"
catch_up = true
[services.manual]
command = ["/bin/true"]
autostart = false
"#;

#[test]
fn the_units_pass_systemd_analyze_verify_and_name_what_does_not_carry_over() {
    let Some(analyze) = external("systemd-analyze") else {
        return;
    };
    let w = Ward::new(CONFIG);
    let out_dir = w.dir.path().join("units");
    let out = w.cli(&["export", "systemd", "-o", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for warned in [
        "warning: [services.web] health: systemd has no health checks",
        "warning: [services.web] recovery:",
        "warning: [services.web] backoff:",
        "warning: [services.web] env.URL: systemd does not expand",
    ] {
        assert!(stderr.contains(warned), "{warned}: {stderr}");
    }
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "db.service",
            "manual.service",
            "migrate.service",
            "report.service",
            "report.timer",
            "web-0.service",
            "web-1.service"
        ]
    );
    let read = |f: &str| std::fs::read_to_string(out_dir.join(f)).unwrap();
    let web1 = read("web-1.service");
    for line in [
        "Requires=db.service\nAfter=db.service",
        "Requires=migrate.service\nAfter=migrate.service",
        "ExecStart=\"/bin/sh\" \"-c\" \"echo port ${PORT} id ${WARD_INSTANCE} pid $$$$ 100%%; exec sleep 300\"",
        "Environment=\"PORT=8001\"",
        "Environment=\"WARD_INSTANCE=1\"",
        "Environment=\"GREETING=hello \\\"world\\\"\"",
        "PassEnvironment=HOST",
        "Restart=on-failure\nRestartSec=500ms",
        "StartLimitBurst=3\nStartLimitIntervalSec=30s",
        "KillMode=process",
        "ExecStartPre=\"/bin/true\"",
        "ExecStopPost=\"/bin/true\"",
        "# not carried over: health:",
        "WantedBy=multi-user.target",
    ] {
        assert!(web1.contains(line), "{line}\n---\n{web1}");
    }
    let db = read("db.service");
    for line in [
        "Type=notify",
        "WatchdogSec=30000ms",
        "KillSignal=SIGINT",
        "TimeoutStopSec=20000ms",
        "MemoryMax=268435456",
        "CPUQuota=50%",
        "TasksMax=64",
        "LimitNOFILE=4096",
        "LimitCORE=0",
        "WorkingDirectory=/\n",
        "PrivateTmp=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    ] {
        assert!(db.contains(line), "{line}\n---\n{db}");
    }
    let migrate = read("migrate.service");
    assert!(
        migrate.contains("Type=oneshot\nRemainAfterExit=yes"),
        "{migrate}"
    );
    assert!(migrate.contains("SuccessExitStatus=3"), "{migrate}");
    assert!(migrate.contains("User=daemon\nGroup=daemon"), "{migrate}");
    let timer = read("report.timer");
    assert!(
        timer.contains("OnCalendar=Mon..Fri *-*-* 3:30:0 UTC"),
        "{timer}"
    );
    assert!(timer.contains("Persistent=yes"), "{timer}");
    assert!(!read("report.service").contains("[Install]"));
    assert!(read("manual.service").contains("autostart = false: not enabled"));

    // systemd's own checker, on every file at once (the dependencies must resolve).
    let mut verify = Command::new(&analyze);
    verify.args(["verify", "--man=no"]);
    for f in &files {
        verify.arg(out_dir.join(f));
    }
    let checked = bounded(verify);
    assert!(checked.status.success(), "{checked:?}");
    assert_eq!(
        String::from_utf8_lossy(&checked.stderr),
        "",
        "systemd-analyze verify complained"
    );
    // Its calendar parser reads the timer's expression as cron meant it.
    let calendar = bounded({
        let mut c = Command::new(&analyze);
        c.args(["calendar", "--iterations=2", "Mon..Fri *-*-* 3:30:0 UTC"]);
        c
    });
    assert!(calendar.status.success(), "{calendar:?}");
}

#[test]
fn ward_itself_as_a_unit_says_ready_to_systemd() {
    let mut w = Ward::new("[services.web]\ncommand = [\"/bin/sleep\", \"300\"]\n");
    if let Some(analyze) = external("systemd-analyze") {
        let out_dir = w.dir.path().join("self");
        let out = w.cli(&[
            "export",
            "systemd",
            "--self",
            "-o",
            out_dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
        let unit = std::fs::read_to_string(out_dir.join("ward.service")).unwrap();
        for line in ["Type=notify", "KillMode=mixed", "Delegate=yes", " up\n"] {
            assert!(unit.contains(line), "{line}\n{unit}");
        }
        let checked = bounded({
            let mut c = Command::new(analyze);
            c.args(["verify", "--man=no"])
                .arg(out_dir.join("ward.service"));
            c
        });
        assert!(checked.status.success(), "{checked:?}");
        assert_eq!(String::from_utf8_lossy(&checked.stderr), "");
    }
    // `ward up` under a manager: READY=1 once its services are started, STOPPING=1 at the
    // end, on the socket `$NOTIFY_SOCKET` names.
    let socket = w.dir.path().join("systemd-notify.sock");
    let manager = UnixDatagram::bind(&socket).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    w.start_daemon_with_env(&[("NOTIFY_SOCKET", socket.to_str().unwrap())]);
    let mut buf = [0u8; 256];
    let n = manager.recv(&mut buf).expect("READY=1 from ward");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\nSTATUS=1 units"), "{ready}");
    let web = w.unit("web");
    assert!(
        matches!(web.state.as_str(), "starting" | "running"),
        "{web:?}"
    );
    w.ok(&["down"]);
    let n = manager.recv(&mut buf).expect("STOPPING=1 from ward");
    assert_eq!(&buf[..n], b"STOPPING=1");
}

/// The Kubernetes version the manifests are validated against, pinned.
const KUBERNETES: &str = "1.30.0";

#[test]
fn kubernetes_manifests_validate_against_the_pinned_schemas() {
    let Some(validate) = external("kubernetes-validate") else {
        return;
    };
    let w = Ward::new(&CONFIG.replace(
        "[services.manual]",
        "[services.store]\ncommand = [\"/bin/sleep\", \"300\"]\ndata = [\"var/db\"]\n\
         health = { tcp = \"127.0.0.1:5432\", start_period = \"10s\" }\n\
         [services.manual]",
    ));
    for layout in ["deployments", "pod"] {
        let out_dir = w.dir.path().join(layout);
        let out = w.cli(&[
            "export",
            "kubernetes",
            "--image",
            "registry.example/app:1.0",
            "--layout",
            layout,
            "-o",
            out_dir.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("[services.db] ready: \"notify\""),
            "{stderr}"
        );
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let mut check = Command::new(&validate);
        check.args(["-k", KUBERNETES, "--strict"]).args(&files);
        let checked = bounded(check);
        assert!(
            checked.status.success(),
            "{layout}: {}\n{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
        let read = |f: &str| std::fs::read_to_string(out_dir.join(f)).unwrap();
        if layout == "deployments" {
            let names: Vec<String> = files
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            for expected in [
                "db-deployment.yaml",
                "web-deployment.yaml",
                "web-service.yaml",
                "migrate-job.yaml",
                "report-cronjob.yaml",
                "store-statefulset.yaml",
                "store-service.yaml",
            ] {
                assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
            }
            let web = read("web-deployment.yaml");
            for line in [
                "replicas: 2",
                "echo port $(PORT) id $(WARD_INSTANCE) pid $$ 100%",
                "name: \"wait-for-db\"",
                "nc -z db 5432",
                "httpGet:",
                "path: \"/healthz\"",
            ] {
                assert!(web.contains(line), "{line}\n{web}");
            }
            let cron = read("report-cronjob.yaml");
            assert!(cron.contains("schedule: \"30 3 * * MON-FRI\""), "{cron}");
            assert!(cron.contains("timeZone: \"UTC\""), "{cron}");
        } else {
            let pod = read("ward-pod.yaml");
            assert!(
                pod.contains("name: \"web-0\"") && pod.contains("name: \"web-1\""),
                "{pod}"
            );
        }
    }
}
