#!/usr/bin/env bash
# One command for the Next.js example: builds what is missing (the SDK, the
# app's dependencies, the herald binary), then runs Herald on 127.0.0.1:7700
# and the app on http://127.0.0.1:3000. Ctrl-C stops both.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sdk="$here/../../sdk"
if [ ! -f "$sdk/react/dist/index.js" ] || [ ! -f "$sdk/next/dist/index.js" ]; then
  echo "== building the SDK (sdk/: npm ci && npm run build)"
  (cd "$sdk" && npm ci --no-audit --no-fund && npm run build)
fi
if [ ! -d "$here/node_modules/next" ]; then
  echo "== installing the app's dependencies (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund)
fi
cd "$here"
exec node scripts/demo.mjs
