#!/usr/bin/env bash
# Installs the Debian 12 packages Roster needs to build, test and run, and only those missing.
# Idempotent: on a machine that has everything it prints nothing and installs nothing.
set -euo pipefail

packages=(
  cmake make g++ pkg-config ccache
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev grpc-proto
  libabsl-dev libsqlitecpp-dev libsqlite3-dev libsodium-dev nlohmann-json3-dev libssl-dev libcrypt-dev
  libcpp-httplib-dev libqrencode-dev libcurl4-openssl-dev
  libpq-dev postgresql-15
  libgtest-dev libgmock-dev sqlite3 openssl curl jq python3-yaml iproute2
  libbenchmark-dev
  oathtool python3-pyotp python3-aiosmtpd
  chromium
  # The client recipes (tests/clients): Go and Python stubs and JOSE libraries from Debian.
  golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev golang-google-genproto-dev
  golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev golang-gopkg-square-go-jose.v2-dev
  python3-grpcio python3-protobuf python3-jwt python3-cryptography
)
# The Node e2e test needs node and npm; any installed Node (>= 18) will do.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
# Optional extras, e.g. ROSTER_EXTRA_PACKAGES=clang for `make check-thread-safety`.
read -r -a extra <<< "${ROSTER_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
