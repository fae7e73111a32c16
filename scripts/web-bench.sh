#!/usr/bin/env bash
# Measures the web app against Fyne's hello world built the same way
# (internal/webapp/testdata/hello): the WebAssembly module's size raw,
# gzip -9 and brotli -q 11, then BenchmarkWebAppStart: the time to the
# first frame in Chromium as a phone, cold and warm (from the service
# worker's cache), and the memory after the start.
# Environment: GO, BENCHTIME (go test's -benchtime, 3x), IBKEY_BENCH_DEMO=1
# (the app on its in-memory demo instead of its vault).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
IBKEY_WEB_BROTLI=11 GO=$GO scripts/web.sh
GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags="-s -w" -o build/hello.wasm ./internal/webapp/testdata/hello
"$GO" run ./cmd/mkweb -wasm build/hello.wasm -wasm-exec "$("$GO" env GOROOT)/lib/wasm/wasm_exec.js" \
	-icon assets/icon.png -brotli 11 -out build/web-hello
rm -f build/hello.wasm

sizes() { # folder: raw gzip brotli of its module, in bytes
	local m
	m=$(ls "$1"/*.wasm)
	echo "$(stat -c %s "$m") $(stat -c %s "$m.gz") $(stat -c %s "$m.br")"
}
read -r ar ag ab <<<"$(sizes build/web)"
read -r hr hg hb <<<"$(sizes build/web-hello)"
awk -v ar="$ar" -v ag="$ag" -v ab="$ab" -v hr="$hr" -v hg="$hg" -v hb="$hb" 'BEGIN {
	printf "%-12s %12s %12s %12s\n", "module", "raw", "gzip -9", "brotli -q 11"
	printf "%-12s %12d %12d %12d\n", "ibkey", ar, ag, ab
	printf "%-12s %12d %12d %12d\n", "hello", hr, hg, hb
	printf "%-12s %12.3f %12.3f %12.3f\n", "ibkey/hello", ar / hr, ag / hg, ab / hb
}'

"$GO" test -run '^$' -bench WebAppStart -benchtime "${BENCHTIME:-3x}" ./internal/webapp/
