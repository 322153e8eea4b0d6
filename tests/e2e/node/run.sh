#!/usr/bin/env bash
# ctest entry point: installs the pinned npm packages (from package-lock.json) into a copy of
# this folder under the build tree, then runs the Node e2e tests against the given server.
set -euo pipefail
binary="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/e2e.test.mjs" "$here/connect.test.mjs" \
  "$here/roster_server.mjs" "$work/"
# The Connect clients take their services from a descriptor set rather than generated code.
protoc --include_imports --descriptor_set_out="$work/roster.binpb" -I "$here/../../../proto" \
  roster/v1/frontend_users.proto roster/v1/backend_users.proto google/rpc/error_details.proto
# The test finds ../../../proto from its own folder: point it at the repo.
sed -i "s|join(here, '..', '..', '..', 'proto')|'$here/../../../proto'|" "$work/e2e.test.mjs"
"$here/../../testing/npm_ci.sh" "$work"
cd "$work"
ROSTER_SERVER_BINARY="$binary" node --test e2e.test.mjs connect.test.mjs
