#!/usr/bin/env bash
# make bench: starts roster-server on a seeded database under $BUILD_DIR/bench (reused across
# runs), runs roster-bench against it, and writes the JSON results beside it.
# Extra arguments go to roster-bench (e.g. --duration=10s --seed=100000 --scenarios=get_user).
set -euo pipefail
build_dir=${BUILD_DIR:-build}
work="$build_dir/bench"
mkdir -p "$work"
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=${ROSTER_BENCH_PORT:-50600}
"$build_dir/bin/roster-server" --db="$work/bench.db" --listen="127.0.0.1:$port" \
  --secret_keys="$key" --log_rpcs=false --lockout_attempts=1000000 2>"$work/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q '"msg":"serving"' "$work/server.log" 2>/dev/null && break
  sleep 0.1
done
ROSTER_SECRET_KEY=$key "$build_dir/bin/roster-bench" --addr="127.0.0.1:$port" \
  --json_out="$work/results.json" "$@"
