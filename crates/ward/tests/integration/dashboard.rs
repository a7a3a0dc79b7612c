//! The dashboard, proven in a real browser: `tests/browser/dashboard.py` drives Debian's
//! headless Chromium with Playwright against this daemon (the overview live, a kill -9
//! seen without a reload, the restart button and its audit record, a read-only session,
//! a script in a log shown as text, the unit page, keyboard, phone and zoom). Without
//! Chromium or Playwright the test says so and is skipped; under CI, which installs
//! both, it fails instead. The screenshots are kept in `target/dashboard-screens/`.

use std::process::Command;
use std::time::Duration;

use crate::fixture::{Ward, bounded_within, external, testbin};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/dashboard.py");

/// The `python3` that can import Playwright; `None`, skipped visibly (or failed under
/// CI), if there is none.
fn playwright() -> Option<std::path::PathBuf> {
    let python = external("python3")?;
    let ok = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "Playwright for Python is not installed, and CI must run this test: .ci/run installs it"
        );
        eprintln!("SKIPPED: Playwright for Python is not installed (pip install playwright)");
    }
    ok.then_some(python)
}

#[test]
fn an_operator_sees_every_service_live_reads_why_and_restarts_one() {
    let Some(chromium) = external("chromium") else {
        return;
    };
    let Some(python) = playwright() else {
        return;
    };
    let bin = testbin();
    let w = Ward::up(&format!(
        r#"
        [supervisor]
        http = "127.0.0.1:0"
        sample_interval = "200ms"

        [services.web]
        command = ["{bin}", "sleep", "300"]

        [services.worker]
        command = ["{bin}", "sleep", "300"]

        [services.noisy]
        command = ["sh", "-c", "while true; do echo '<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">'; sleep 0.3; done"]
        env = {{ API_TOKEN = "s3cr3t-value-123456" }}
        "#
    ));
    for name in ["web", "worker", "noisy"] {
        w.wait_state(name, "running");
    }
    let addr = w.status().daemon.http.expect("the listener's address");
    let read = |name: &str| {
        std::fs::read_to_string(w.dir.path().join(".ward").join(name))
            .expect(name)
            .trim()
            .to_string()
    };
    let artifacts = concat!(env!("CARGO_TARGET_TMPDIR"), "/../dashboard-screens");
    let mut cmd = Command::new(python);
    // The Chromium found here is the one the script drives.
    cmd.env("WARD_CHROMIUM", chromium).args([
        SCRIPT,
        &format!("http://{addr}/"),
        &read("http.token"),
        &read("http.read.token"),
        &w.dir.path().join(".ward/audit.jsonl").display().to_string(),
        artifacts,
    ]);
    let out = bounded_within(cmd, Duration::from_secs(240));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{said}");
    assert!(out.status.success(), "the browser checks failed:\n{said}");
    assert!(said.contains("every check held"), "{said}");
    for shot in [
        "overview.png",
        "unit-noisy.png",
        "unit-web.png",
        "overview-phone.png",
    ] {
        let size = std::fs::metadata(format!("{artifacts}/{shot}")).map_or(0, |m| m.len());
        assert!(size > 1000, "{shot} was not saved");
    }
    w.ok(&["down"]);
}
