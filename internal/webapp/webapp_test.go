package webapp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// app is a built web app in miniature: the page, the service worker, the
// manifest, a versioned module with its compressed forms and a script
// with only a gzip form.
func app() fstest.MapFS {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	return fstest.MapFS{
		"index.html":                   f("<!DOCTYPE html><title>ibkey</title>"),
		"index.html.br":                f("BR(index)"),
		"index.html.gz":                f("GZ(index)"),
		"sw.js":                        f("self.addEventListener('fetch', () => {});"),
		"manifest.webmanifest":         f(`{"name":"IB Key"}`),
		"ibkey.0123456789ab.wasm":      f("\x00asm module"),
		"ibkey.0123456789ab.wasm.br":   f("BR(module)"),
		"ibkey.0123456789ab.wasm.gz":   f("GZ(module)"),
		"boot.abcdef012345.js":         f("'use strict';"),
		"boot.abcdef012345.js.gz":      f("GZ(boot)"),
		"icon-192.abcdef012345.png":    f("\x89PNG"),
		".hidden":                      f("secret"),
		"orphan.js.br":                 f("BR(orphan)"),
		"sub/extra.css":                f("body{}"),
		"sub/.git/config":              f("secret"),
		"sub/.well-known/security.txt": f("x"),
	}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, method, path, acceptEncoding string, extra ...string) resp {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		r.Header.Set(extra[i], extra[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return resp{w.Code, w.Result().Header, w.Body.String()}
}

func TestServe(t *testing.T) {
	h := NewFS(app())
	const chrome = "gzip, deflate, br, zstd" // what Chromium sends
	for _, c := range []struct {
		name, path, accept string
		status             int
		body, ctype, enc   string
		cache              string
	}{
		{"the page at the root", "/app/", chrome, 200, "BR(index)", "text/html; charset=utf-8", "br", "no-cache"},
		{"the page by name", "/app/index.html", "gzip", 200, "GZ(index)", "text/html; charset=utf-8", "gzip", "no-cache"},
		{"no Accept-Encoding", "/app/", "", 200, "<!DOCTYPE html><title>ibkey</title>", "text/html; charset=utf-8", "", "no-cache"},
		{"brotli refused", "/app/", "br;q=0, gzip;q=0.5", 200, "GZ(index)", "text/html; charset=utf-8", "gzip", "no-cache"},
		{"only identity", "/app/", "identity", 200, "<!DOCTYPE html><title>ibkey</title>", "text/html; charset=utf-8", "", "no-cache"},
		{"codings in capitals", "/app/", "GZIP", 200, "GZ(index)", "text/html; charset=utf-8", "gzip", "no-cache"},
		{"a bad q-value refuses", "/app/", "br;q=2, gzip", 200, "GZ(index)", "text/html; charset=utf-8", "gzip", "no-cache"},
		{"star", "/app/", "*", 200, "BR(index)", "text/html; charset=utf-8", "br", "no-cache"},
		{"the module", "/app/ibkey.0123456789ab.wasm", chrome, 200, "BR(module)", "application/wasm", "br", "public, max-age=31536000, immutable"},
		{"the module, gzip", "/app/ibkey.0123456789ab.wasm", "gzip, deflate", 200, "GZ(module)", "application/wasm", "gzip", "public, max-age=31536000, immutable"},
		{"a script without brotli", "/app/boot.abcdef012345.js", chrome, 200, "GZ(boot)", "text/javascript; charset=utf-8", "gzip", "public, max-age=31536000, immutable"},
		{"the service worker", "/app/sw.js", chrome, 200, "self.addEventListener('fetch', () => {});", "text/javascript; charset=utf-8", "", "no-cache"},
		{"the manifest", "/app/manifest.webmanifest", chrome, 200, `{"name":"IB Key"}`, "application/manifest+json", "", "no-cache"},
		{"an icon", "/app/icon-192.abcdef012345.png", chrome, 200, "\x89PNG", "image/png", "", "public, max-age=31536000, immutable"},
		{"a subfolder", "/app/sub/extra.css", chrome, 200, "body{}", "text/css; charset=utf-8", "", "no-cache"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := get(t, h, "GET", c.path, c.accept)
			if r.status != c.status || r.body != c.body {
				t.Fatalf("%d %q, want %d %q", r.status, r.body, c.status, c.body)
			}
			if got := r.header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if got := r.header.Get("Content-Encoding"); got != c.enc {
				t.Errorf("Content-Encoding %q, want %q", got, c.enc)
			}
			if got := r.header.Get("Cache-Control"); got != c.cache {
				t.Errorf("Cache-Control %q, want %q", got, c.cache)
			}
			if got := r.header.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("Vary %q", got)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			csp := r.header.Get("Content-Security-Policy")
			if strings.HasSuffix(c.ctype, "html; charset=utf-8") != (csp == CSP) {
				t.Errorf("CSP %q on %s", csp, c.ctype)
			}
		})
	}
}

func TestServeRefuses(t *testing.T) {
	h := NewFS(app())
	for _, path := range []string{
		"/app/missing.js",
		"/app/.hidden",
		"/app/sub/.git/config",
		"/app/sub/.well-known/security.txt",
		"/app/index.html.br", // the compressed forms only stand in for a file
		"/app/orphan.js.br",
		"/app/orphan.js", // only its .br exists
		"/app/sub/",
		"/app/sub",
		"/app/../go.mod",
		"/app//index.html",
		"/other/index.html",
	} {
		r := get(t, h, "GET", path, "br, gzip")
		if r.status != http.StatusNotFound {
			t.Errorf("%s: %d %q", path, r.status, r.body)
		}
		if cc := r.header.Get("Cache-Control"); r.status == 404 && cc == "public, max-age=31536000, immutable" {
			t.Errorf("%s: a 404 cached for ever", path)
		}
	}
	if r := get(t, h, "POST", "/app/", ""); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", r.status, r.header)
	}
	if r := get(t, h, "GET", "/app/sw.js", "identity;q=0, br;q=0"); r.status != http.StatusNotAcceptable {
		t.Errorf("nothing acceptable: %d", r.status)
	}
}

func TestServeHeadAndRevalidation(t *testing.T) {
	h := NewFS(app())
	r := get(t, h, "HEAD", "/app/", "br")
	if r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "9" || r.header.Get("Content-Encoding") != "br" {
		t.Fatalf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	// The page is revalidated on every load: unchanged, it costs a 304.
	if r := get(t, h, "GET", "/app/", "br", "If-None-Match", etag); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match the same: %d", r.status)
	}
	// Each encoding is its own representation.
	gz := get(t, h, "GET", "/app/", "gzip").header.Get("ETag")
	if gz == etag {
		t.Errorf("br and gzip share the ETag %s", gz)
	}
	if r := get(t, h, "GET", "/app/", "gzip", "If-None-Match", etag); r.status != http.StatusOK || r.body != "GZ(index)" {
		t.Errorf("the brotli ETag with gzip: %d %q", r.status, r.body)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(t.TempDir()); !errors.Is(err, ErrNoApp) {
		t.Errorf("an empty folder: %v", err)
	}
	if _, err := New(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing folder: no error")
	}
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.txt")
	must(t, os.WriteFile(outside, []byte("secret"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!DOCTYPE html>"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "index.html.br"), []byte("BR"), 0o644))
	must(t, os.Symlink(outside, filepath.Join(dir, "link.txt")))
	must(t, os.Symlink(outside, filepath.Join(dir, "index.html.gz")))
	h, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, h, "GET", "/app/", "br"); r.status != 200 || r.body != "BR" {
		t.Errorf("the page: %d %q", r.status, r.body)
	}
	// A symbolic link out of the folder is not followed.
	if r := get(t, h, "GET", "/app/link.txt", ""); r.status != http.StatusNotFound {
		t.Errorf("a link out: %d %q", r.status, r.body)
	}
	if r := get(t, h, "GET", "/app/", "gzip"); r.status != 200 || r.body != "<!DOCTYPE html>" {
		t.Errorf("a compressed form linked out: %d %q", r.status, r.body)
	}
}

// TestNewBuild: make web replaces the folder whole while the service
// runs; the next request gets the new build.
func TestNewBuild(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "web")
	write := func(dir, page string) {
		must(t, os.Mkdir(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644))
	}
	write(dir, "build 1")
	h, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, h, "GET", "/app/", ""); r.body != "build 1" {
		t.Fatalf("%d %q", r.status, r.body)
	}
	write(filepath.Join(parent, "new"), "build 2")
	must(t, os.Rename(dir, filepath.Join(parent, "old")))
	must(t, os.Rename(filepath.Join(parent, "new"), dir))
	must(t, os.RemoveAll(filepath.Join(parent, "old")))
	if r := get(t, h, "GET", "/app/", ""); r.body != "build 2" {
		t.Errorf("after the swap: %d %q", r.status, r.body)
	}
	must(t, os.RemoveAll(dir))
	if r := get(t, h, "GET", "/app/", ""); r.status != http.StatusNotFound || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("no build: %d %q", r.status, r.header.Get("Cache-Control"))
	}
}

func TestParseAcceptEncoding(t *testing.T) {
	// RFC 9110, 12.5.3.
	for _, c := range []struct {
		header             string
		br, gzip, identity bool
	}{
		{"", false, false, true},
		{"gzip, deflate, br", true, true, true},
		{"br;q=0", false, false, true},
		{"gzip;q=0.001", false, true, true},
		{"gzip; q=1.0, br ; q = 0.5", true, true, true},
		{"*", true, true, true},
		{"*;q=0", false, false, false},
		{"*;q=0, identity", false, false, true},
		{"br, *;q=0", true, false, false},
		{"identity;q=0", false, false, false},
		{"gzip;q=x", false, false, true},
		{",,;q=1, ,", false, false, true},
	} {
		a := parseAcceptEncoding(c.header)
		if a.allows("br") != c.br || a.allows("gzip") != c.gzip || a.allows("identity") != c.identity {
			t.Errorf("%q: br %v gzip %v identity %v, want %v %v %v", c.header,
				a.allows("br"), a.allows("gzip"), a.allows("identity"), c.br, c.gzip, c.identity)
		}
	}
}

func TestIsVersioned(t *testing.T) {
	for name, want := range map[string]bool{
		"ibkey.0123456789ab.wasm":  true,
		"boot.abcdef01.js":         true,
		"sub/style.abcdef0123.css": true,
		"index.html":               false,
		"sw.js":                    false,
		"manifest.webmanifest":     false,
		"boot.ABCDEF01.js":         false,
		"boot.abcdef0.js":          false,
		"jquery.min.js":            false,
		"a.b.c":                    false,
	} {
		if got := isVersioned(name); got != want {
			t.Errorf("isVersioned(%q) = %v", name, got)
		}
	}
}

func FuzzParseAcceptEncoding(f *testing.F) {
	for _, s := range []string{"", "gzip, deflate, br, zstd", "br;q=0, *;q=0.1", "identity;q=0", "a;b;c=d;q=0.5"} {
		f.Add(s)
	}
	h := NewFS(app())
	f.Fuzz(func(t *testing.T, header string) {
		a := parseAcceptEncoding(header)
		// Whatever the header, the answer is a form the header allows,
		// with the right content, or 406.
		r := get(t, h, "GET", "/app/ibkey.0123456789ab.wasm", "", "Accept-Encoding", header)
		want := map[string]string{"br": "BR(module)", "gzip": "GZ(module)", "": "\x00asm module"}
		enc := r.header.Get("Content-Encoding")
		switch {
		case r.status == http.StatusNotAcceptable:
			if a.allows("br") || a.allows("gzip") || a.allows("identity") {
				t.Fatalf("%q: 406 though something is allowed", header)
			}
		case r.status != 200 || r.body != want[enc]:
			t.Fatalf("%q: %d %q as %q", header, r.status, r.body, enc)
		case enc == "" && !a.allows("identity"), enc != "" && !a.allows(enc):
			t.Fatalf("%q: served %q, not allowed", header, enc)
		case enc != "br" && a.allows("br"):
			t.Fatalf("%q: %q served where br is allowed", header, enc)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
