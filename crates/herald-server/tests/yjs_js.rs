//! The y-websocket door with the real JavaScript clients: `yjs` 13 and
//! `y-websocket` 3 from npm, in Node, against the `herald` binary
//! (`tests/yjs-js/yjs.test.mjs`): convergence after concurrent edits,
//! offline edits merged on reconnect, awareness added and removed, a
//! read-only token refused, size limits, the `/api/docs` HTTP API, and the
//! document after a graceful restart and after a crash. Skipped only when
//! `node` is missing.

use std::path::Path;
use std::process::Command;

#[test]
fn yjs_and_y_websocket_packages_collaborate_through_herald() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/yjs-js");
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `node` is not installed, so the yjs (Node) test cannot run");
        return;
    }
    if !dir.join("node_modules/y-websocket").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "`npm ci` failed in {}", dir.display());
    }
    let status = Command::new("node")
        .arg("yjs.test.mjs")
        .current_dir(&dir)
        .env("HERALD_BIN", env!("CARGO_BIN_EXE_herald"))
        .status()
        .expect("run node");
    assert!(status.success(), "tests/yjs-js/yjs.test.mjs failed");
}
