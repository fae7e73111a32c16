// Command mkweb writes the ibkey web app into a folder (make web: build/web)
// from the app's WebAssembly module: the page, the web app manifest, the
// service worker, the icons (from assets/icon.png) and the scripts, the
// assets named by their content's hash so that they can be cached for
// ever. The folder is replaced whole, so that a service serving it never
// sees half a build. Beside the module and the text files it puts their
// brotli and gzip forms, made with Debian's brotli and gzip.
//
//	go run ./cmd/mkweb -wasm ibkey.wasm -wasm-exec "$(go env GOROOT)/lib/wasm/wasm_exec.js" -icon assets/icon.png -out build/web
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var c config
	flag.StringVar(&c.wasm, "wasm", "", "the app built with GOOS=js GOARCH=wasm")
	flag.StringVar(&c.wasmExec, "wasm-exec", "", "the Go toolchain's wasm_exec.js, of the Go that built the module")
	flag.StringVar(&c.icon, "icon", "assets/icon.png", "the app's icon, a square PNG")
	flag.StringVar(&c.out, "out", "build/web", "the folder to write (replaced)")
	flag.IntVar(&c.brotli, "brotli", 11, "the brotli quality of the .br files, 0 to 11 (-1: no .br or .gz files)")
	flag.Parse()
	if c.wasm == "" || c.wasmExec == "" || flag.NArg() > 0 || c.brotli > 11 {
		fmt.Fprintln(os.Stderr, "usage: mkweb -wasm FILE -wasm-exec FILE [-icon PNG] [-out DIR]")
		os.Exit(2)
	}
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "mkweb: %v\n", err)
		os.Exit(1)
	}
}
