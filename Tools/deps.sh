#!/usr/bin/env bash
# Installs the Debian packages Yidang needs when they are missing.
# Usage: Tools/deps.sh [extra-package …]
set -euo pipefail
need=()
for pkg in librocksdb-dev zlib1g-dev libjemalloc-dev libnats-dev pkg-config python3 "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
