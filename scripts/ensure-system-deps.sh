#!/usr/bin/env bash
# Install the Debian packages the test suite needs, and make sure PostgreSQL is running.
#
#   scripts/ensure-system-deps.sh [--runtime] [EXTRA_PACKAGE ...]
#
# --runtime: only what serving needs (PDF rendering and its fonts), and no PostgreSQL.
#
# Missing packages are installed with apt-get when running as root (as on the development and
# CI machines); otherwise the exact install command is printed and the script exits 1.
set -euo pipefail

# Serving: WeasyPrint renders PDFs with Pango; Noto CJK is the font embedded for Chinese.
RUNTIME_PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk"
# Testing adds: a real browser (chromium), ffmpeg (fake camera .y4m for scanner tests) and
# poppler-utils (pdftotext / pdftoppm read the PDFs back).
TEST_PACKAGES="chromium ffmpeg poppler-utils"

runtime_only=0
if [[ "${1:-}" == "--runtime" ]]; then
  runtime_only=1
  shift
fi
PACKAGES="$RUNTIME_PACKAGES"
if ((runtime_only == 0)); then
  PACKAGES="$PACKAGES $TEST_PACKAGES"
fi

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
  elif ((runtime_only == 1)); then
    # Serving works without them; only the PDF posters and manifests do not.
    echo "warning: PDF rendering needs Debian packages: ${missing[*]}" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  else
    echo "error: missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ((runtime_only == 0)); then
  bash "$here/ensure-postgres.sh"
fi
