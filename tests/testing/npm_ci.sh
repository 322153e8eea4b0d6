#!/usr/bin/env bash
# Installs DIR/package-lock.json into DIR/node_modules with `npm ci`, unless that same lock is
# already installed there (a stamp beside the packages records the lock they came from).
#   npm_ci.sh DIR
set -euo pipefail
cd "$1"
if [[ ! -d node_modules ]] || ! cmp -s package-lock.json node_modules/.package-lock.json.src; then
  npm ci --no-audit --no-fund --silent
  cp package-lock.json node_modules/.package-lock.json.src
fi
