#!/usr/bin/env bash
# make bench: the whole benchmark set in one go (about 11 minutes once the large database is
# seeded; seeding it the first time adds a few minutes), then docs/performance.md's results
# section regenerated from what was just measured (scripts/bench_report.py).
# Every run against health on one server (step 1's last, steps 2–4) repeats its scenarios
# $BENCH_ROUNDS times (default 3) in turn (roster-bench --rounds).
#
#   1. get_user and list_by_email at $BENCH_USERS and at $BENCH_LARGE_USERS users, a server
#      on each and the load alternating between them, then get_user with the user cache off
#      the same way, and issue 31's scenarios with it off against health, which is what a read
#      costs the database (the reads sample 10,000 users, which the cache holds);
#   2. every scenario on SQLite at $BENCH_USERS users, 32 calls in flight, then get_user beside
#      sign_in offered open-loop at twice the hash pool's capacity;
#   3. get_user against health at 1 and at 64 calls in flight (latency ratios), and create_user
#      at 64 in flight (group commit against bare commits); get_me over Connect JSON and
#      gRPC-Web against get_me over gRPC, 6 in flight;
#   4. the first page and a page 100,000 deep, and mixed at $BENCH_LARGE_USERS users, and the
#      server's start-up time on that database (a second start, already seeded);
#   5. every scenario on PostgreSQL (a throwaway cluster, fsync on) at $BENCH_USERS users, with
#      PostgreSQL's own CPU per call (its postmaster's process tree);
#   6. the storage micro-benchmark (UserStore against bare sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
out=$(realpath -m "${BENCH_OUT:-$build/bench-results}")
users=${BENCH_USERS:-10000}
large=${BENCH_LARGE_USERS:-1000000}
measure=(--warmup=1s --duration="${BENCH_DURATION:-2s}")
# Every comparison is made $rounds times, its two sides measured seconds apart, and the median
# reported: this VM's speed drifts by up to twice within minutes.
rounds=${BENCH_ROUNDS:-3}
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt  # The report must read this run's figures only.
export BUILD_DIR=$build
# The small database is seeded afresh (a few seconds): the write scenarios add
# thousands of users to it per run, and a reused file had grown from 10,000 to
# 206,008 users, which the 1,000,000 / 10,000 ratios then compared against.
rm -f "$build/bench/bench.db" "$build/bench/bench.db-wal" "$build/bench/bench.db-shm"
started=$(date +%s)

run() {  # run NAME BENCH_DIR roster-bench-args…
  local name=$1 dir=$2
  shift 2
  echo "== $name" >&2
  BENCH_DIR=$dir scripts/bench.sh "$@" > "$out/$name.txt"
  cp "$dir/results.json" "$out/$name.json"
  cp "$dir/server.json" "$out/$name.server.json"
  grep -v '^{' "$out/$name.txt" >&2
}

# 1. The two sizes side by side: a server on each file, every scenario on both in alternating
#    half-second slices (roster-bench --compare_addr), first with the user cache, then without.
#    These run first, while the small database still holds $users users.
COMPARE_DB="$build/bench-large/bench.db" run compare "$build/bench" --seed="$users" \
  --compare_seed="$large" --scenarios=get_user,list_by_email --warmup=1s
SERVER_ARGS=--user_cache_mb=0 COMPARE_DB="$build/bench-large/bench.db" run compare_uncached \
  "$build/bench" --seed="$users" --compare_seed="$large" --scenarios=get_user --warmup=1s
# Issue 31's scenarios with the user cache off: what PostgreSQL's server CPU per call is held to.
SERVER_ARGS=--user_cache_mb=0 run uncached "$build/bench" --seed="$users" \
  --scenarios=get_user,list_by_email,list_page,get_me,create_user "${measure[@]}" --rounds="$rounds"
run sqlite "$build/bench" --seed="$users" --overload "${measure[@]}" --rounds="$rounds"
run inflight1 "$build/bench" --seed="$users" --scenarios=get_user --inflight=1 --channels=1 \
  "${measure[@]}" --rounds="$rounds"
run inflight64 "$build/bench" --seed="$users" --scenarios=get_user,create_user --inflight=64 \
  "${measure[@]}" --rounds="$rounds"
BENCH_HTTP=1 run browsers "$build/bench" --seed="$users" \
  --scenarios=get_me,get_me_connect,get_me_grpc_web --inflight=6 "${measure[@]}" --rounds="$rounds"
run large "$build/bench-large" --seed="$large" \
  --scenarios=list_first_page,list_deep_page,mixed "${measure[@]}" --rounds="$rounds"
run large_restart "$build/bench-large" --seed="$large" --scenarios=get_user --warmup=0s \
  --duration=1s
printf '%s\n' "$build/bench/bench.db" "$build/bench-large/bench.db" > "$out/databases.txt"
WITH_POSTGRES_DURABLE=1 scripts/with-postgres.sh sh -c \
  "BENCH_DB=\"\$ROSTER_TEST_POSTGRES_DSN\" BENCH_DIR=$build/bench-postgres scripts/bench.sh \
     --seed=$users --warmup=1s --duration=${BENCH_DURATION:-2s} --rounds=$rounds > $out/postgres.txt"
cp "$build/bench-postgres/results.json" "$out/postgres.json"
cp "$build/bench-postgres/server.json" "$out/postgres.server.json"
grep -v '^{' "$out/postgres.txt" >&2
echo "== storage" >&2
(cd "$build/bench" && ../bin/roster-storage-bench --benchmark_min_time=0.5 \
   --benchmark_out="$out/storage.json" --benchmark_out_format=json > "$out/storage.txt")
grep -A4 "ratio" "$out/storage.txt" >&2 || true
echo "total $(( $(date +%s) - started )) s" | tee "$out/elapsed.txt" >&2
python3 scripts/bench_report.py "$out" docs/performance.md "$users" "$large"
