#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs what is
# missing, starts the services the tests use, then lint + tests, then the
# browser test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-services.sh

JS_TESTS=crates/herald-server/tests/node
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
echo "== JavaScript test dependencies"
if [ ! -x "$CHROMIUM" ]; then
  echo "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
(cd "$JS_TESTS" && npm ci --no-audit --no-fund)
# Pusher compatibility: pusher-js, the pusher SDK and Laravel Echo (run by
# `cargo test --test pusher_js`), and the pusher-js browser test below.
PUSHER_JS_TESTS=crates/herald-server/tests/pusher-js
(cd "$PUSHER_JS_TESTS" && npm ci --no-audit --no-fund)
# Supabase Realtime compatibility: @supabase/realtime-js 2.x (run by
# `cargo test --test supabase_js`), and its browser test below.
SUPABASE_JS_TESTS=crates/herald-server/tests/supabase-js
(cd "$SUPABASE_JS_TESTS" && npm ci --no-audit --no-fund)
# yjs 13 + y-websocket 3 for the collaborative-editing tests (tests/yjs_js.rs, and
# tests/yjs_cluster.rs: two nodes on Redis + PostgreSQL).
(cd crates/herald-server/tests/yjs-js && npm ci --no-audit --no-fund)
# socket.io-client 4.8 for the Socket.IO door (tests/socketio_js.rs) and its browser test below.
SOCKETIO_JS_TESTS=crates/herald-server/tests/socketio-js
(cd "$SOCKETIO_JS_TESTS" && npm ci --no-audit --no-fund)
# Ably compatibility: the real ably 2.x client (tests/ably_js.rs) and its browser test below.
ABLY_JS_TESTS=crates/herald-server/tests/ably-js
(cd "$ABLY_JS_TESTS" && npm ci --no-audit --no-fund)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked

echo "== fuzz targets compile (cargo check on stable; running them needs cargo-fuzz and nightly)"
# fuzz/ is its own workspace (cargo-fuzz builds it with sanitizer flags), so
# `cargo test --workspace` never sees it: check it here, into the same target
# directory, so a parser change that breaks a fuzz target fails the run.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" cargo check --locked --manifest-path fuzz/Cargo.toml --bins

echo "== build the herald binary for the JavaScript tests (a no-op after cargo test)"
cargo build --locked -p herald-server --bin herald
export HERALD_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/herald"

echo "== browser test (chromium EventSource against /sse)"
CHROMIUM="$CHROMIUM" node "$JS_TESTS/browser.test.mjs"

echo "== browser test (chromium page with pusher-js against the Pusher door)"
CHROMIUM="$CHROMIUM" node "$PUSHER_JS_TESTS/browser.test.mjs"

echo "== browser test (chromium page with socket.io-client against the Socket.IO door: polling, then websocket)"
CHROMIUM="$CHROMIUM" node "$SOCKETIO_JS_TESTS/browser.test.mjs"
echo "== browser test (chromium page with @supabase/realtime-js against the Supabase door)"
CHROMIUM="$CHROMIUM" node "$SUPABASE_JS_TESTS/browser.test.mjs"
echo "== browser test (chromium page with ably-js against the Ably door)"
CHROMIUM="$CHROMIUM" node "$ABLY_JS_TESTS/browser.test.mjs"

echo "== SDK (sdk/): npm ci && npm run build && npm test"
(cd sdk && npm ci --no-audit --no-fund && npm run build && npm test)

echo "== Next.js example (examples/nextjs): next build, then end-to-end tests in chromium (two users, herald restarted)"
# Needs the SDK built above (the app installs sdk/*/dist as file: dependencies)
# and HERALD_BIN; writes the README's screenshots to docs/images/.
(cd examples/nextjs && npm ci --no-audit --no-fund && NEXT_TELEMETRY_DISABLED=1 npm run build \
  && CHROMIUM="$CHROMIUM" npm run e2e)

echo "== herald-bench --quick (smoke test: the tool works end to end; not a measurement)"
cargo build --locked -p herald-server -p herald-bench
bench_bin="${CARGO_TARGET_DIR:-target}/debug/herald-bench"
bench_out="$(mktemp -d)"
"$bench_bin" fanout --quick --targets herald,raw,herald-socketio --out "$bench_out/fanout"
# The Pusher dialect: subscribers on /app/{key}, the publisher on the signed
# HTTP API. sockudo runs only where it is installed (bench/peers/README.md);
# elsewhere it is skipped with a message and the run still passes.
"$bench_bin" fanout --quick --targets herald-pusher,sockudo,herald --out "$bench_out/fanout-pusher"
"$bench_bin" connect --quick --targets herald,raw --out "$bench_out/connect"
"$bench_bin" many-channels --quick --targets herald,raw --out "$bench_out/many-channels"
"$bench_bin" recovery --quick --targets herald,herald-sqlite --out "$bench_out/recovery"
rm -rf "$bench_out"
