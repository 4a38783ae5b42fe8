#!/usr/bin/env bash
# Install the Debian packages the test suite needs, and make sure PostgreSQL is running.
#
#   scripts/ensure-system-deps.sh [EXTRA_PACKAGE ...]
#
# Missing packages are installed with apt-get when running as root (as on the development and
# CI machines); otherwise the exact install command is printed and the script exits 1.
set -euo pipefail

# Debian packages the tests need. Later: chromium fonts-noto-cjk (browser tests, CJK PDFs),
# ffmpeg (fake camera .y4m for the scanner tests).
PACKAGES=""

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck disable=SC2206  # word splitting of the list is intended
wanted=($PACKAGES "$@")
missing=()
for pkg in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" == 0 ]]; then
    echo "Installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update && apt-get install -y "${missing[@]}"
  else
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

bash "$here/ensure-postgres.sh"
