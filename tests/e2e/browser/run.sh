#!/usr/bin/env bash
# ctest entry point: installs the pinned npm packages (package-lock.json) into a copy of this
# folder under the build tree, then drives the account portal in Debian's Chromium.
set -euo pipefail
binary="$1"
work="$2"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here"/portal*.mjs \
  "$here/../node/roster_server.mjs" "$work/"
# The social sign-in tests' OpenID provider, with its own pinned packages.
mkdir -p "$work/provider"
cp "$here/../../oauth/provider/package.json" "$here/../../oauth/provider/package-lock.json" \
  "$here/../../oauth/provider/provider.mjs" "$work/provider/"
"$here/../../testing/npm_ci.sh" "$work/provider"
"$here/../../testing/npm_ci.sh" "$work"
cd "$work"
PORTAL_SCREENSHOTS="$work/screenshots" ROSTER_SERVER_BINARY="$binary" node --test portal.test.mjs
