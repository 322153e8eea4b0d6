#!/usr/bin/env bash
# Starts roster-server on a seeded database under $BENCH_DIR (default $BUILD_DIR/bench, reused
# across runs), runs roster-bench against it, and writes beside it results.json (roster-bench's
# figures) and server.json (start-up time to the first served port, resident memory).
# Extra arguments go to roster-bench (e.g. --duration=10s --seed=100000 --scenarios=get_user).
# BENCH_DB=postgres://… runs the server on PostgreSQL instead (make bench-postgres).
# SERVER_ARGS adds flags to roster-server (e.g. SERVER_ARGS=--user_cache_mb=0).
set -euo pipefail
build_dir=${BUILD_DIR:-build}
work=${BENCH_DIR:-$build_dir/bench}
mkdir -p "$work"
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
started=$(date +%s%N)
"$build_dir/bin/roster-server" --db="${BENCH_DB:-$work/bench.db}" --listen="127.0.0.1:0" \
  --secret_keys="$key" --log_rpcs=false --lockout_attempts=1000000 ${SERVER_ARGS:-} \
  2>"$work/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 3000); do
  port=$(sed -n 's/.*"msg":"serving".*"port":\([0-9]*\).*/\1/p' "$work/server.log" 2>/dev/null)
  [ -n "$port" ] && break
  sleep 0.01
done
[ -n "$port" ] || { echo "roster-server did not start:"; cat "$work/server.log"; exit 1; }
# "serving" is logged once the port listens and health says SERVING.
startup_ms=$(( ($(date +%s%N) - started) / 1000000 ))
ROSTER_SECRET_KEY=$key "$build_dir/bin/roster-bench" --addr="127.0.0.1:$port" \
  --server_pid="$server" --json_out="$work/results.json" "$@"
rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$server/status"; }
printf '{"startup_ms":%d,"rss_peak_kib":%d,"rss_end_kib":%d}\n' \
  "$startup_ms" "$(rss VmHWM)" "$(rss VmRSS)" > "$work/server.json"
