#!/usr/bin/env bash
# make bench: starts roster-server on a seeded database under $BENCH_DIR (default
# $BUILD_DIR/bench, reused across runs), runs roster-bench against it, and writes the JSON
# results beside it.
# Extra arguments go to roster-bench (e.g. --duration=10s --seed=100000 --scenarios=get_user).
# BENCH_DB=postgres://… runs the server on PostgreSQL instead (make bench-postgres).
set -euo pipefail
build_dir=${BUILD_DIR:-build}
work=${BENCH_DIR:-$build_dir/bench}
mkdir -p "$work"
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$build_dir/bin/roster-server" --db="${BENCH_DB:-$work/bench.db}" --listen="127.0.0.1:0" \
  --secret_keys="$key" --log_rpcs=false --lockout_attempts=1000000 2>"$work/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*"msg":"serving".*"port":\([0-9]*\).*/\1/p' "$work/server.log" 2>/dev/null)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "roster-server did not start:"; cat "$work/server.log"; exit 1; }
ROSTER_SECRET_KEY=$key "$build_dir/bin/roster-bench" --addr="127.0.0.1:$port" \
  --json_out="$work/results.json" "$@"
