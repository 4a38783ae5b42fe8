#!/usr/bin/env bash
# Re-create dashboard/static/vendor/barcode-detector/ from the npm registry (no CDN at run time):
# the BarcodeDetector ponyfill (iife build, exposes `BarcodeDetectionAPI`) and the ZXing reader
# WebAssembly it loads. The scanner page points `locateFile` at the local copy of the .wasm.
# Needs node + npm. Run from anywhere; review `git diff` afterwards.
set -euo pipefail

BARCODE_DETECTOR_VERSION=3.2.2
# Must be the exact version barcode-detector depends on: the ponyfill checks the .wasm's sha256.
ZXING_WASM_VERSION=3.1.3

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/dashboard/static/vendor/barcode-detector"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# fetch NAME VERSION -> unpacks into $tmp/NAME/package
fetch() {
  local name="$1" version="$2" tgz
  mkdir -p "$tmp/$name"
  tgz="$(cd "$tmp/$name" && npm pack --silent "${name}@${version}")"
  tar -xzf "$tmp/$name/$tgz" -C "$tmp/$name"
}

fetch barcode-detector "$BARCODE_DETECTOR_VERSION"
fetch zxing-wasm "$ZXING_WASM_VERSION"

wanted="$(node -p "require('$tmp/barcode-detector/package/package.json').dependencies['zxing-wasm']")"
if [ "$wanted" != "$ZXING_WASM_VERSION" ]; then
  echo "barcode-detector@$BARCODE_DETECTOR_VERSION wants zxing-wasm@$wanted, not $ZXING_WASM_VERSION" >&2
  exit 1
fi

mkdir -p "$dest"
cp "$tmp/barcode-detector/package/dist/iife/ponyfill.js" "$dest/barcode-detector.iife.js"
cp "$tmp/barcode-detector/package/LICENSE" "$dest/LICENSE.barcode-detector"
cp "$tmp/zxing-wasm/package/dist/reader/zxing_reader.wasm" "$dest/zxing_reader.wasm"
cp "$tmp/zxing-wasm/package/LICENSE" "$dest/LICENSE.zxing-wasm"

(cd "$dest" && sha256sum barcode-detector.iife.js zxing_reader.wasm LICENSE.*)
