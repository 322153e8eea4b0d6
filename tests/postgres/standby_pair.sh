#!/usr/bin/env bash
# A PostgreSQL 15 primary and a synchronous streaming standby on loopback, built from Debian's
# packages, for the failover test (tests/integration/pg_failover_test.cc).
#
#   standby_pair.sh up DIR PRIMARY_PORT STANDBY_PORT   # initdb, start, pg_basebackup, wait for sync
#                                                       # (exit 75 when a port is in use)
#   standby_pair.sh kill-primary DIR                    # pg_ctl stop -m immediate: a crash
#   standby_pair.sh promote DIR                         # the standby becomes the primary
#   standby_pair.sh down DIR                            # stop both, delete DIR
#
# Both clusters keep PostgreSQL's default durability (fsync, synchronous_commit on), and the
# primary waits for the standby's flush before a COMMIT returns (synchronous_standby_names).
# Under root the clusters belong to the `postgres` system user, as in scripts/with-postgres.sh.
set -euo pipefail
pg_bin=/usr/lib/postgresql/15/bin
command=$1
dir=$2
as_owner=()
[[ $(id -u) -eq 0 ]] && as_owner=(runuser -u postgres --)
pg() { "${as_owner[@]}" "$pg_bin/$@"; }
# Starts the cluster in $1 on port $2 (extra settings after), logging to $1.log; exits 75
# (EX_TEMPFAIL) when the port is in use, as another process may have taken it since it was
# found free, so the caller can try other ports.
start() {
  local cluster=$1 port=$2
  shift 2
  pg pg_ctl -D "$cluster" -l "$cluster.log" -w -t 60 start \
    -o "$options -c port=$port $*" >/dev/null && return 0
  cat "$cluster.log" >&2
  grep -q "Address already in use" "$cluster.log" && exit 75
  exit 1
}

case "$command" in
  up)
    primary_port=$3
    standby_port=$4
    mkdir -p "$dir"
    chmod 755 "$dir"
    [[ ${#as_owner[@]} -gt 0 ]] && chown postgres: "$dir"
    pg initdb -D "$dir/primary" -U roster --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    options="-c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=100"
    start "$dir/primary" "$primary_port" -c synchronous_standby_names=standby
    # -R writes standby.signal and primary_conninfo; the application name makes it the
    # standby that synchronous_standby_names waits for.
    pg pg_basebackup -h 127.0.0.1 -p "$primary_port" -U roster -D "$dir/standby" -R \
      -d "application_name=standby" >"$dir/basebackup.log" 2>&1 ||
      { cat "$dir/basebackup.log" >&2; exit 1; }
    start "$dir/standby" "$standby_port"
    for _ in $(seq 300); do
      state=$(pg psql -h 127.0.0.1 -p "$primary_port" -U roster -d postgres -Atc \
        "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'")
      [[ "$state" == "sync" ]] && exit 0
      sleep 0.1
    done
    echo "standby_pair: the standby never became synchronous" >&2
    exit 1
    ;;
  kill-primary)
    pg pg_ctl -D "$dir/primary" -m immediate -w stop >/dev/null
    ;;
  promote)
    pg pg_ctl -D "$dir/standby" -w -t 60 promote >/dev/null
    ;;
  down)
    for cluster in primary standby; do
      [[ -d "$dir/$cluster" ]] && pg pg_ctl -D "$dir/$cluster" -m immediate -w stop \
        >/dev/null 2>&1 || true
    done
    rm -rf "$dir"
    ;;
  *)
    echo "usage: standby_pair.sh up|kill-primary|promote|down DIR [PRIMARY_PORT STANDBY_PORT]" >&2
    exit 2
    ;;
esac
