#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is
# missing, starts the services the tests use, then lint + tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-services.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked

echo "== SDK (sdk/): npm ci && npm run build && npm test"
# The SDK tests spawn the real server binary; build it (a no-op after cargo test).
cargo build -p herald-server --locked
export HERALD_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/herald"
if ! command -v npm >/dev/null; then
  echo "npm missing: installing nodejs and npm"
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
(cd sdk && npm ci --no-audit --no-fund && npm run build && npm test)
