#!/usr/bin/env bash
# The benchmark run behind BENCHMARKS.md (about 6 minutes on 2 cores).
# Builds herald and herald-bench in release, records the machine, then runs
# the fan-out and connect scenarios against every target, writing tables,
# JSON and SVG plots under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="${TARGETS:-herald,raw,ws,socketio}"
duration="${DURATION:-20s}"
cargo build --release --locked -p herald-server -p herald-bench
bin="${CARGO_TARGET_DIR:-target}/release/herald-bench"
mkdir -p bench/results
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "cpu: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(cat /proc/sys/kernel/osrelease)"
  echo "open files limit: $(ulimit -n)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "node: $(node --version 2>/dev/null || echo none)"
} | tee bench/results/machine.txt
"$bin" fanout --subscribers 1000 --rate 100 --payload 100 --duration "$duration" --targets "$targets" \
  --out bench/results/fanout-1000x100
"$bin" fanout --subscribers 10000 --rate 10 --payload 100 --duration "$duration" --targets "$targets" \
  --out bench/results/fanout-10000x10
"$bin" connect --steps 1000,10000 --connect-rate 2000 --targets "$targets" --out bench/results/connect
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a bench/results/machine.txt
