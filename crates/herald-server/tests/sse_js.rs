//! The SSE door with a real JavaScript client: the npm `eventsource`
//! package (v4) in Node receives live events on two channels, then recovers
//! by itself after the server is killed and restarted
//! (`tests/node/eventsource.test.mjs`). Skipped only when `node` is missing.
//! The browser test (`tests/node/browser.test.mjs`) runs from `scripts/test.sh`.

use std::path::Path;
use std::process::Command;

#[test]
fn eventsource_package_receives_live_and_recovers_after_a_restart() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `node` is not installed, so the eventsource (Node) SSE test cannot run");
        return;
    }
    if !dir.join("node_modules/eventsource").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "`npm ci` failed in {}", dir.display());
    }
    let status = Command::new("node")
        .arg("eventsource.test.mjs")
        .current_dir(&dir)
        .env("HERALD_BIN", env!("CARGO_BIN_EXE_herald"))
        .status()
        .expect("run node");
    assert!(status.success(), "tests/node/eventsource.test.mjs failed");
}
