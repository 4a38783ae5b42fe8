#!/usr/bin/env bash
# Re-create dashboard/static/vendor/ from the npm registry (no CDN at run time).
# Needs node + npm. Fetches the exact versions below with `npm pack` into a temp dir and copies
# only the files the app serves. Run from anywhere; review `git diff` afterwards.
set -euo pipefail

SWAGGER_UI_DIST_VERSION=5.35.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/dashboard/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fetch NAME VERSION -> unpacks into $tmp/NAME/package
fetch() {
  local name="$1" version="$2" tgz
  mkdir -p "$tmp/$name"
  tgz="$(cd "$tmp/$name" && npm pack --silent "${name}@${version}")"
  tar -xzf "$tmp/$name/$tgz" -C "$tmp/$name"
}

# --- swagger-ui-dist: FastAPI /docs served locally ---------------------------------------------
fetch swagger-ui-dist "$SWAGGER_UI_DIST_VERSION"
dest="$vendor/swagger-ui"
rm -rf "$dest"
mkdir -p "$dest"
# LICENSE + NOTICE: Apache-2.0 requires shipping both; the bundle's first line points at its
# .LICENSE.txt (licences of the third-party code webpack bundled in).
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
  cp "$tmp/swagger-ui-dist/package/$f" "$dest/$f"
done

(cd "$vendor" && sha256sum swagger-ui/*)
