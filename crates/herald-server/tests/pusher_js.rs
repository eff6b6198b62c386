//! The Pusher door with the real JavaScript packages: `pusher-js` 8 (the
//! client), `pusher` 5 (the server SDK: triggers, REST, auth endpoint,
//! webhook validation) and Laravel Echo's pusher connector, in Node
//! against the built `herald` binary (`tests/pusher-js/*.test.mjs`).
//! Skipped only when `node` is missing. The browser test
//! (`tests/pusher-js/browser.test.mjs`) runs from `scripts/test.sh`.

use std::path::Path;
use std::process::Command;

fn run_node(file: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pusher-js");
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `node` is not installed, so the pusher-js test {file} cannot run");
        return;
    }
    if !dir.join("node_modules/pusher-js").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "`npm ci` failed in {}", dir.display());
    }
    let status = Command::new("node")
        .arg(file)
        .current_dir(&dir)
        .env("HERALD_BIN", env!("CARGO_BIN_EXE_herald"))
        .status()
        .expect("run node");
    assert!(status.success(), "tests/pusher-js/{file} failed");
}

#[test]
fn pusher_js_and_the_pusher_sdk_work_against_herald() {
    run_node("pusher.test.mjs");
}

#[test]
fn laravel_echo_with_the_pusher_connector_works_against_herald() {
    run_node("echo.test.mjs");
}
