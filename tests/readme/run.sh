#!/usr/bin/env bash
# ctest entry point (readme_walkthrough): the README's "A walk-through with grpcurl" and "The
# `roster` CLI", then docs/events.md's "Example", every block as written, in order, in one
# shell, against a fresh
# `roster-server --dev` started the way `make run` starts it. Only the port differs (the server
# takes a free one): ADDR names it, and `roster` is a wrapper that adds --addr. grpcurl is this
# folder's shim over `buf curl`, installed from npm by tools/buf/package-lock.json.
#   run.sh ROSTER_SERVER ROSTER_CLI WORK_DIR
set -euo pipefail
server="$(realpath "$1")"
cli="$(realpath "$2")"
work="$3"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

mkdir -p "$work"
cp "$repo/tools/buf/package.json" "$repo/tools/buf/package-lock.json" "$work/"
"$repo/tests/testing/npm_ci.sh" "$work"
export BUF="$work/node_modules/.bin/buf"

# The three sections' blocks, each from its heading to the next one.
script="$work/walkthrough.sh"
/usr/bin/python3 - "$repo/README.md" "$repo/docs/events.md" "$script" <<'EOF'
import re, sys
readme = open(sys.argv[1]).read()
events = open(sys.argv[2]).read()
script = ""
for text, heading, least in ((readme, "## A walk-through with grpcurl", 6),
                             (readme, "## The `roster` CLI", 3), (events, "## Example", 1)):
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= least, f"{len(blocks)} blocks under {heading}"
    script += "".join(blocks)
open(sys.argv[3], "w").write(script)
EOF

run="$work/run"
rm -rf "$run"
mkdir -p "$run/.roster"
# avatar.png, the reader's own image in the README: a 1x1 PNG.
base64 -d <<<'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgAAIAAAUAAen63NgAAAAASUVORK5CYII=' >"$run/avatar.png"

# `make run`'s command, on port 0: the serving line names the port taken.
exec 3< <(cd "$run" && exec "$server" --dev --db="$run/.roster/dev.db" --listen=127.0.0.1:0 2>&1)
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
port=""
while IFS= read -r -t 30 line <&3; do
  if [[ "$line" =~ \"msg\":\"serving\".*\"port\":([0-9]+) ]]; then
    port="${BASH_REMATCH[1]}"
    break
  fi
done
[[ -n "$port" ]] || { echo "roster-server did not start: ${line:-no output}"; exit 1; }
cat <&3 >"$run/server.log" &

grep -q '^ADDR=localhost:50051$' "$script" || { echo "the walk-through no longer sets ADDR"; exit 1; }
sed -i "s/^ADDR=localhost:50051$/ADDR=localhost:$port/" "$script"

# `roster`, as build/bin/roster on PATH would be, at this server's port on the host its
# --addr defaults to.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec %q --addr=127.0.0.1:%s "$@"\n' "$cli" "$port" >"$work/bin/roster"
chmod +x "$work/bin/roster"

out="$run/walkthrough.out"
status=0
(cd "$run" && PATH="$here:$work/bin:$PATH" GRPCURL_STREAM_SECONDS=2 bash -euo pipefail "$script") \
  >"$out" 2>&1 || status=$?
cat "$out"
[[ $status -eq 0 ]] || { echo "the walk-through failed (exit $status) at the call above"; exit 1; }

# What each block should have shown, beyond exiting 0.
missing=0
for expected in \
  'roster.v1.FrontendUsers' \
  '"status": "SERVING"' \
  '"plan": "pro"' \
  '"stripe": "cus_456"' \
  '"sessionToken": "ey' \
  '"keys": \[' \
  '"strategy": "email_code"' \
  '"status": "STATUS_NEEDS_SECOND_FACTOR"' \
  '"status": "STATUS_COMPLETE"' \
  'Content-Type: image/png' \
  '"type": "user.created"' \
  '"code": "unauthenticated"' \
  'refused, as it should be' \
  '"deleted": true' \
  '"imported":2' \
  '"email_address":"fay@example.com"' \
  '"status":"STATUS_NEEDS_SECOND_FACTOR"' \
  '"status":"STATUS_COMPLETE"' \
  '"two_factor_enabled":true' \
  '"status":"SERVING"'; do
  grep -q -- "$expected" "$out" || { echo "missing from the walk-through's output: $expected"; missing=1; }
done
# An unset time is left out, never sent as the epoch.
if grep -n '"1970-01-01T00:00:00Z"' "$out"; then
  echo "a time the server never set reads as the epoch"
  missing=1
fi
# docs/events.md: the deletion, in the whole stream and in the one narrowed to deletions.
[[ $(grep -c '"type": "user.deleted"' "$out") -ge 2 ]] ||
  { echo "docs/events.md's streams did not both show the deletion"; missing=1; }
# The address verified by its code, not left pending.
[[ $(grep -c '"status": "STATUS_VERIFIED"' "$out") -ge 3 ]] ||
  { echo "fewer verified identifiers than the walk-through makes"; missing=1; }
exit "$missing"
