#!/usr/bin/env bash
# Starts roster-server on a seeded database under $BENCH_DIR (default $BUILD_DIR/bench, reused
# across runs), runs roster-bench against it, and writes beside it results.json (roster-bench's
# figures) and server.json (start-up time to the first served port, resident memory).
# Extra arguments go to roster-bench (e.g. --duration=10s --seed=100000 --scenarios=get_user).
# BENCH_DB=postgres://… runs the server on PostgreSQL instead (make bench-postgres); under
# scripts/with-postgres.sh, PostgreSQL's own CPU per call is reported beside the server's (db µs).
# SERVER_ARGS adds flags to roster-server (e.g. SERVER_ARGS=--user_cache_mb=0).
# COMPARE_DB=FILE starts a second server on FILE (its log beside it) and passes it to
# roster-bench as --compare_addr / --compare_pid: both servers then run each scenario in
# alternating slices.
# BENCH_HTTP=1 also serves the HTTP listener and passes it as --http_addr: get_me then runs over
# Connect JSON and gRPC-Web too (at most 6 calls in flight: the listener admits 8 connections per
# client address).
set -euo pipefail
build_dir=${BUILD_DIR:-build}
work=${BENCH_DIR:-$build_dir/bench}
mkdir -p "$work"
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$key" > "$work/signing.key"  # A 32-byte seed in hex (required on PostgreSQL).
# sign_in_totp's secrets; kept with the database, which is reused and keeps secrets it sealed.
[ -s "$work/data.keys" ] || (umask 077 && head -c 32 /dev/urandom | base64 > "$work/data.keys")
servers=()
trap 'for s in "${servers[@]}"; do kill -TERM "$s" 2>/dev/null; wait "$s" 2>/dev/null || true; done' EXIT

start_server() {  # start_server DB LOG: sets $server (pid) and $port
  "$build_dir/bin/roster-server" --db="$1" --listen="127.0.0.1:0" \
    --secret_keys="$key" --signing_key_file="$work/signing.key" --data_keys_file="$work/data.keys" --log_rpcs=false --lockout_attempts=1000000 \
    --sign_up_required=username,password --sign_ups_per_address_per_hour=1000000 ${SERVER_ARGS:-} \
    ${BENCH_HTTP:+--http_listen=127.0.0.1:0} 2>"$2" &
  server=$!
  servers+=("$server")
  port=""
  for _ in $(seq 3000); do
    port=$(sed -n 's/.*"msg":"serving".*"port":\([0-9]*\),.*/\1/p' "$2" 2>/dev/null)
    http_port=$(sed -n 's/.*"msg":"serving".*"http_port":\([0-9]*\).*/\1/p' "$2" 2>/dev/null)
    [ -n "$port" ] && return 0
    sleep 0.01
  done
  echo "roster-server did not start:"; cat "$2"; exit 1
}

compare_args=()
if [ -n "${COMPARE_DB:-}" ]; then
  start_server "$COMPARE_DB" "$COMPARE_DB.server.log"
  compare_args=(--compare_addr="127.0.0.1:$port" --compare_pid="$server")
fi
started=$(date +%s%N)
start_server "${BENCH_DB:-$work/bench.db}" "$work/server.log"
# "serving" is logged once the port listens and health says SERVING.
startup_ms=$(( ($(date +%s%N) - started) / 1000000 ))
http_args=()
[ -n "${BENCH_HTTP:-}" ] && http_args=(--http_addr="127.0.0.1:$http_port")
db_args=()
[ -n "${BENCH_DB:-}" ] && [ -n "${ROSTER_TEST_POSTGRES_PID:-}" ] &&
  db_args=(--db_pid="$ROSTER_TEST_POSTGRES_PID")
ROSTER_SECRET_KEY=$key "$build_dir/bin/roster-bench" --addr="127.0.0.1:$port" \
  --server_pid="$server" --json_out="$work/results.json" "${compare_args[@]}" "${http_args[@]}" \
  "${db_args[@]}" "$@"
rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$server/status"; }
printf '{"startup_ms":%d,"rss_peak_kib":%d,"rss_end_kib":%d}\n' \
  "$startup_ms" "$(rss VmHWM)" "$(rss VmRSS)" > "$work/server.json"
