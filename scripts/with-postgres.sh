#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL 15 cluster: initdb in a fresh temp directory, a
# postmaster on a free loopback port (no Unix socket, no password: trust on 127.0.0.1 only), and
# ROSTER_TEST_POSTGRES_DSN pointing at it (ROSTER_TEST_POSTGRES_PID: the postmaster's pid). The
# cluster is stopped and deleted when the command ends, however it ends. PostgreSQL refuses to
# run as root, so under root the cluster belongs to the `postgres` system user the Debian package
# creates.
#
#   scripts/with-postgres.sh ctest -j2        # run the tests against both adapters
#
# Without PostgreSQL's binaries the command runs anyway, with ROSTER_TEST_POSTGRES_DSN unset:
# the PostgreSQL tests then print why they skip. In CI (CI=true) that is an error instead.
set -euo pipefail

pg_bin=/usr/lib/postgresql/15/bin
if [[ ! -x "$pg_bin/initdb" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "with-postgres: $pg_bin/initdb is missing (scripts/bootstrap.sh installs postgresql-15)" >&2
    exit 1
  fi
  echo "with-postgres: PostgreSQL 15 is not installed; PostgreSQL tests will be skipped" >&2
  exec "$@"
fi

dir=$(mktemp -d /tmp/roster-pg.XXXXXX)
chmod 755 "$dir"
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi

# A free port: bind port 0 and read what the kernel picked (a race with other processes is
# possible but harmless: pg_ctl then fails loudly).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$pg_bin/initdb" -D "$dir/data" -U roster --auth=trust --encoding=UTF8 \
  --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# Durability is tested on SQLite; a throwaway test cluster skips fsync so that the hundreds of
# CREATE DATABASE a test run issues stay cheap. Benchmarks set WITH_POSTGRES_DURABLE=1 and get
# PostgreSQL's defaults (fsync, synchronous_commit), the honest comparison with SQLite's FULL.
# max_connections covers three replicas' pools and ctest -j.
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[[ "${WITH_POSTGRES_DURABLE:-}" == "1" ]] && durability=""
"${as_owner[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' $durability \
      -c max_connections=400 -c shared_buffers=128MB" >/dev/null ||
  { cat "$dir/postgres.log" >&2; exit 1; }

export ROSTER_TEST_POSTGRES_DSN="postgresql://roster@127.0.0.1:$port/postgres"
# The postmaster's pid (the first line of postmaster.pid): roster-bench --db_pid reads its tree's
# CPU.
export ROSTER_TEST_POSTGRES_PID=$(head -n1 "$dir/data/postmaster.pid")
echo "with-postgres: PostgreSQL 15 on 127.0.0.1:$port (data in $dir)" >&2
set +e
"$@"
status=$?
set -e
exit $status
