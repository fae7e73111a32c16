package ibkeykit_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gnustepShim lets the generated Objective-C build against GNUstep's
// Foundation, which lacks one NSString method that the generated code
// calls (declared here, never linked).
const gnustepShim = `#ifdef __OBJC__
#import <Foundation/Foundation.h>
@interface NSString (IbkeyGNUstepShim)
- (BOOL)getBytes:(void *)buffer maxLength:(NSUInteger)maxBufferCount usedLength:(NSUInteger *)usedBufferCount encoding:(NSStringEncoding)encoding options:(NSUInteger)options range:(NSRange)range remainingRange:(NSRangePointer)leftover;
@end
#endif
`

// blocksShim is the header that GNUstep's headers include for blocks
// under clang, which gcc's libobjc does not ship.
const blocksShim = `#pragma once
void *_Block_copy(const void *);
void _Block_release(const void *);
`

// TestObjC generates the Objective-C bindings and builds them, with the
// Go side and testdata/objc/app.m (an app's SecretStore and Biometrics,
// and calls of the API), using clang against GNUstep's Foundation: every
// generated .m and header compiles with ARC and -Werror, and the Go side
// builds with the Objective-C side's cgo exports. It cannot link against
// Apple's Foundation or run: undefined symbols are left unresolved in the
// shared library, and nothing is called.
func TestObjC(t *testing.T) {
	if os.Getenv("IBKEY_TEST_OBJC") != "1" {
		t.Skip("IBKEY_TEST_OBJC=1 compiles the Objective-C bindings against GNUstep (scripts/test.sh does)")
	}
	clang := need(t, "clang")
	gnustep := need(t, "gnustep-config")
	flags, err := exec.Command(gnustep, "--objc-flags").Output()
	if err != nil {
		t.Fatalf("gnustep-config: %v", err)
	}
	// GNUstep's Foundation includes gcc's <objc/runtime.h>. clang has ARC
	// only with a GNUstep runtime ABI, under which two of its
	// declarations do not compile as written: the shim is a copy with
	// them rewritten.
	gccInc := strings.TrimSpace(run(t, ".", nil, "gcc", "-print-file-name=include"))
	runtimeH, err := os.ReadFile(filepath.Join(gccInc, "objc", "runtime.h"))
	if err != nil {
		t.Fatalf("gcc's objc/runtime.h (libobjc-*-dev, with libgnustep-base-dev): %v", err)
	}
	rt := string(runtimeH)
	for _, r := range [][2]string{
		{"return object->class_pointer;", "return *(Class *)(__bridge void *)object;"},
		{"Protocol **", "Protocol * __unsafe_unretained *"},
		{`#include "objc.h"`, "#include <objc/objc.h>"},
		{`#include "objc-decls.h"`, "#include <objc/objc-decls.h>"},
	} {
		if !strings.Contains(rt, r[0]) {
			t.Fatalf("gcc's objc/runtime.h has no %q: the shim needs a look", r[0])
		}
		rt = strings.ReplaceAll(rt, r[0], r[1])
	}
	mod := t.TempDir()
	shim := filepath.Join(mod, "shim")
	if err := os.MkdirAll(filepath.Join(shim, "objc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"objc/runtime.h":        rt,
		"objc/blocks_runtime.h": blocksShim,
		"gnustep_shim.h":        gnustepShim,
	} {
		if err := os.WriteFile(filepath.Join(shim, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	gen := gobind(t, "objc")
	src := filepath.Join(gen, "src", "gobind")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	app, err := os.ReadFile(filepath.Join("testdata", "objc", "app.m"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"app_objc.m": app}
	for _, e := range entries {
		name := e.Name()
		if strings.Contains(name, "_android.") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		// Apple's module import and framework have no GNUstep
		// counterpart: the plain import, and no framework flag.
		b = bytes.ReplaceAll(b, []byte("@import Foundation;"), []byte("#import <Foundation/Foundation.h>"))
		b = bytes.ReplaceAll(b, []byte("#cgo LDFLAGS: -framework Foundation"), nil)
		b = bytes.ReplaceAll(b, []byte("-fmodules "), nil)
		if strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".m") {
			name = strings.Replace(name, "_darwin.", "_objc.", 1)
		}
		files[name] = b
	}
	for _, want := range []string{"Ibkeykit_objc.m", "seq_objc.m", "Ibkeykit.objc.h"} {
		if files[want] == nil {
			t.Fatalf("gobind made no %s", want)
		}
	}
	writeModule(t, mod, "ibkeyobjc", files)
	objcFlags := strings.ReplaceAll(strings.ReplaceAll(string(flags), "-MMD -MP", ""), " -I. ", " ")
	cflags := strings.Join([]string{
		"-D__GOBIND_DARWIN__", "-fobjc-runtime=gnustep-2.0", strings.TrimSpace(objcFlags),
		"-I" + shim, "-idirafter", gccInc, "-include", filepath.Join(shim, "gnustep_shim.h"),
		// GNUstep's nil is an id, Apple's a void *: the generated
		// `error != nil` on an NSError ** compares distinct pointers.
		"-Wno-compare-distinct-pointer-types", "-Wno-error=unused-command-line-argument",
	}, " ")
	lib := filepath.Join(t.TempDir(), "libibkeyobjc.so")
	run(t, mod, []string{"CC=" + clang, "CGO_ENABLED=1", "CGO_CFLAGS=" + cflags, "GOFLAGS=-mod=mod",
		// Nothing here links against Apple's Foundation.
		"CGO_LDFLAGS=-Wl,--unresolved-symbols=ignore-all"},
		"go", "build", "-buildmode=c-shared", "-o", lib, ".")
	// The app's code is in: its function and classes were compiled.
	syms := run(t, ".", nil, "nm", "-D", "--defined-only", lib)
	for _, want := range []string{"AppRespond", "IbkeykitOpenVault", "IbkeykitCode"} {
		if !strings.Contains(syms, want) {
			t.Errorf("%s not defined in the library", want)
		}
	}
}
