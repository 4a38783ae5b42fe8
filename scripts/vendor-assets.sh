#!/usr/bin/env bash
# Re-create dashboard/static/vendor/ from the npm registry (no CDN at run time).
# Needs node + npm. Fetches the exact versions below with `npm pack` into a temp dir and copies
# only the files the app serves. Run from anywhere; review `git diff` afterwards.
set -euo pipefail

SWAGGER_UI_DIST_VERSION=5.35.0
BARCODE_DETECTOR_VERSION=3.2.2
# Must be the exact version barcode-detector depends on: the ponyfill checks the .wasm's sha256.
ZXING_WASM_VERSION=3.1.3

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

# --- barcode-detector + zxing-wasm: the scanner page's camera decoder ---------------------------
# The BarcodeDetector ponyfill (iife build, exposes `BarcodeDetectionAPI`) and the ZXing reader
# WebAssembly it loads; the scanner page points `locateFile` at the local copy of the .wasm.
fetch barcode-detector "$BARCODE_DETECTOR_VERSION"
fetch zxing-wasm "$ZXING_WASM_VERSION"
wanted="$(node -p "require('$tmp/barcode-detector/package/package.json').dependencies['zxing-wasm']")"
if [ "$wanted" != "$ZXING_WASM_VERSION" ]; then
  echo "barcode-detector@$BARCODE_DETECTOR_VERSION wants zxing-wasm@$wanted, not $ZXING_WASM_VERSION" >&2
  exit 1
fi
dest="$vendor/barcode-detector"
mkdir -p "$dest"
cp "$tmp/barcode-detector/package/dist/iife/ponyfill.js" "$dest/barcode-detector.iife.js"
cp "$tmp/barcode-detector/package/LICENSE" "$dest/LICENSE.barcode-detector"
cp "$tmp/zxing-wasm/package/dist/reader/zxing_reader.wasm" "$dest/zxing_reader.wasm"
cp "$tmp/zxing-wasm/package/LICENSE" "$dest/LICENSE.zxing-wasm"

(cd "$vendor" && sha256sum swagger-ui/* barcode-detector/barcode-detector.iife.js \
  barcode-detector/zxing_reader.wasm barcode-detector/LICENSE.*)
