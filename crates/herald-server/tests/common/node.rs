//! Running a JavaScript test file with Node against the `herald` binary.

use std::path::Path;
use std::process::Command;

/// Run `node <file>` in `tests/<dir>` with `HERALD_BIN` set, after `npm ci`
/// when its `node_modules` lacks `needs`. Skipped (with a note) when `node`
/// is not installed; fails when the script fails.
pub fn run(dir: &str, needs: &str, file: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(dir);
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `node` is not installed, so {file} cannot run");
        return;
    }
    if !dir.join("node_modules").join(needs).exists() {
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
    assert!(status.success(), "{}/{file} failed", dir.display());
}
