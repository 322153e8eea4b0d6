#!/usr/bin/env bash
# Builds the roster image from deploy/Dockerfile and tags it roster:<version> (the version of
# CMakeLists.txt's project()). Uses docker when its engine answers, podman otherwise (installed by
# scripts/bootstrap.sh when neither is present). Podman builds with --isolation=chroot, so RUN
# steps need no container runtime.
#
# The Dockerfile starts FROM debian:bookworm-slim. When that image is neither on the machine nor
# pullable (no registry reachable), it is made here: debootstrap --variant=minbase bookworm,
# trimmed as the official slim image is, and imported under the official name. A base already on
# the machine is reused, so only the first build pays for it.
#
#   scripts/image.sh            # prints the tag and the image's size on its last lines
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^project(roster VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
tag="roster:${version:?no version in CMakeLists.txt}"
base=docker.io/library/debian:bookworm-slim

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=(docker)
  build=(docker build)
else
  if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    ROSTER_EXTRA_PACKAGES="podman debootstrap" scripts/bootstrap.sh
  fi
  engine=(podman)
  # chroot isolation runs RUN steps without a runtime; the ulimits keep apt and the compiler
  # inside limits podman would otherwise copy from a root shell's (unbounded) ones.
  build=(podman build --isolation=chroot --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
fi

# The base: present, else pulled, else made locally.
if ! "${engine[@]}" image inspect "$base" >/dev/null 2>&1 &&
   ! timeout 60 "${engine[@]}" pull -q "$base" >/dev/null 2>&1; then
  echo "image: no registry answered; making $base with debootstrap" >&2
  command -v debootstrap >/dev/null ||
    ROSTER_EXTRA_PACKAGES="debootstrap" scripts/bootstrap.sh
  rootfs=$(mktemp -d /tmp/roster-base.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  mirror=${ROSTER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # As the official image: the three suites (so images get security updates), no package
  # caches or lists, and no documentation installed by later apt-get runs.
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Binary::apt::APT::Keep-Downloaded-Packages "false";
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias \
    -exec rm -rf {} + 2>/dev/null || true
  tar -C "$rootfs" -c . | "${engine[@]}" import \
    --change 'CMD ["bash"]' - "$base" >/dev/null 2>&1
fi

log=$(mktemp /tmp/roster-image-build.XXXXXX.log)
started=$SECONDS
"${build[@]}" -f deploy/Dockerfile -t "$tag" . >"$log" 2>&1 ||
  { tail -40 "$log" >&2; echo "image: build failed (log: $log)" >&2; exit 1; }
rm -f "$log"
# Earlier builds' stages are dangling now: drop them, but keep this build's stage (tagged; the
# build is cached, so this costs nothing) so its compiler packages' layer serves the next build.
"${build[@]}" -q --target build -f deploy/Dockerfile -t "roster-build:$version" . >/dev/null
"${engine[@]}" image prune -f >/dev/null
echo "image: built in $((SECONDS - started)) s" >&2
size=$("${engine[@]}" image inspect --format '{{.Size}}' "$tag")
echo "image: $tag"
echo "image size: $((size / 1024 / 1024)) MiB ($size bytes)"
