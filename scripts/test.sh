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
echo "== herald-bench --quick (smoke test: the tool works end to end; not a measurement)"
cargo build --locked -p herald-server -p herald-bench
bench_bin="${CARGO_TARGET_DIR:-target}/debug/herald-bench"
bench_out="$(mktemp -d)"
"$bench_bin" fanout --quick --targets herald,raw --out "$bench_out/fanout"
"$bench_bin" connect --quick --targets herald,raw --out "$bench_out/connect"
rm -rf "$bench_out"
