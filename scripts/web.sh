#!/usr/bin/env bash
# Builds the app as a web app into build/web (make web): the WebAssembly
# module (GOOS=js GOARCH=wasm), then the page, manifest, service worker,
# icons and the brotli and gzip forms (cmd/mkweb).
# `ibkey serve --web build/web` serves it at /app/.
# Environment: GO (the go command), IBKEY_WEB_OUT (the folder, build/web),
# IBKEY_WEB_BROTLI (brotli's quality, 11: smallest; 5 builds in seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
out=${IBKEY_WEB_OUT:-build/web}
mkdir -p build
"$GO" version >/dev/null
GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags="-s -w" -o build/ibkey.wasm .
"$GO" run ./cmd/mkweb -wasm build/ibkey.wasm \
	-wasm-exec "$("$GO" env GOROOT)/lib/wasm/wasm_exec.js" \
	-icon assets/icon.png -brotli "${IBKEY_WEB_BROTLI:-11}" -out "$out"
rm -f build/ibkey.wasm
echo "built the web app in $out" >&2
