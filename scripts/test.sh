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
