// Package webapp serves the ibkey app built for the web (make web, which
// writes build/web with [Package]) on the service's own origin, at /app/:
// the page, its manifest, the service worker, the icons and the
// WebAssembly module, each as the precompressed file the browser accepts.
//
// # Caching
//
// Files whose names carry a content hash (ibkey.3f2a9c1b.wasm,
// boot.0c1d2e3f.js) never change: they are cached for a year, immutable.
// The page, the manifest and the service worker are revalidated on every
// load (no-cache), so that a new build is found; the service worker keeps
// the app working offline (docs/WEB.md).
//
// # Compression
//
// Beside a file F, the build writes F.br and F.gz. The handler picks by the
// request's Accept-Encoding, brotli before gzip before the file itself, and
// says Vary: Accept-Encoding.
package webapp

import (
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// Prefix is where the web app is served.
const Prefix = "/app/"

// CSP is the page's Content-Security-Policy: the app's own scripts and
// the WebAssembly module ('wasm-unsafe-eval' lets the page compile it, not
// eval JavaScript), connections to the service it came from, its own
// images, stylesheet, manifest and service worker; nothing inline, no
// framing, no forms.
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; " +
	"img-src 'self'; style-src 'self'; manifest-src 'self'; worker-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ErrNoApp is returned by New when the folder holds no web app.
var ErrNoApp = errors.New("webapp: no index.html: build the web app with make web")

// Handler serves a built web app. Mount it at [Prefix].
type Handler struct {
	dir  string // the folder, opened again for each request
	root fs.FS  // or this, for tests
}

// New serves the web app in the folder dir (build/web). Only the files
// inside dir are served: no listing, no dot files, no symbolic link out.
// The folder is opened anew for each request, so that a new build that
// replaces it (make web) is served at once.
func New(dir string) (*Handler, error) {
	h := &Handler{dir: dir}
	fsys, done, err := h.open()
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := fs.Stat(fsys, "index.html"); err != nil {
		return nil, ErrNoApp
	}
	return h, nil
}

// NewFS serves the web app in fsys, for tests.
func NewFS(fsys fs.FS) *Handler { return &Handler{root: fsys} }

// open returns the app's files and a function that closes them.
func (h *Handler) open() (fs.FS, func(), error) {
	if h.root != nil {
		return h.root, func() {}, nil
	}
	r, err := os.OpenRoot(h.dir)
	if err != nil {
		return nil, nil, err
	}
	return r.FS(), func() { r.Close() }, nil
}

// encodings are the precompressed forms, best first.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// ServeHTTP serves GET and HEAD requests under [Prefix].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok || !servable(name) {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if isVersioned(name) {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	if strings.HasSuffix(name, ".html") {
		hd.Set("Content-Security-Policy", CSP)
	}
	ctype := contentType(name)
	hd.Set("Content-Type", ctype)
	hd.Add("Vary", "Accept-Encoding")
	root, done, err := h.open()
	if err != nil {
		notFound(w, r)
		return
	}
	defer done()
	// The file itself must exist: the compressed forms only stand in for
	// it.
	plain, err := fs.Stat(root, name)
	if err != nil || !plain.Mode().IsRegular() {
		notFound(w, r)
		return
	}
	accept := parseAcceptEncoding(r.Header.Get("Accept-Encoding"))
	for _, e := range encodings {
		if !accept.allows(e.name) {
			continue
		}
		if serveFile(w, r, root, name+e.ext, e.name) {
			return
		}
	}
	if !accept.allows("identity") {
		http.Error(w, "no acceptable encoding", http.StatusNotAcceptable)
		return
	}
	if !serveFile(w, r, root, name, "") {
		notFound(w, r)
	}
}

// notFound answers 404, not to be cached.
func notFound(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Del("Content-Type")
	hd.Del("Content-Security-Policy")
	hd.Set("Cache-Control", "no-store")
	http.NotFound(w, r)
}

// serveFile serves the file name of root with the Content-Encoding enc
// ("" for none), or reports false when it cannot be opened.
func serveFile(w http.ResponseWriter, r *http.Request, root fs.FS, name, enc string) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	rs, ok := f.(interface {
		Read([]byte) (int, error)
		Seek(int64, int) (int64, error)
	})
	if !ok {
		return false
	}
	if enc != "" {
		// ServeContent gives no length to an encoded body: give it
		// here, so that the browser can show the download's progress,
		// and serve it whole (a range of a compressed form is of no use).
		w.Header().Set("Content-Encoding", enc)
		w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
		r.Header.Del("Range")
	}
	// A weak validator of this file and encoding: its size and time.
	w.Header().Set("ETag", `"`+strconv.FormatInt(st.ModTime().UnixNano(), 36)+"-"+strconv.FormatInt(st.Size(), 36)+enc+`"`)
	http.ServeContent(w, r, "", st.ModTime().Truncate(time.Second), rs)
	return true
}

// servable reports whether name (the path under Prefix) may be served:
// a plain file name in the folder or under its subfolders, no dot files,
// no compressed form asked for directly.
func servable(name string) bool {
	if name == "" {
		return true
	}
	if !fs.ValidPath(name) || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return false
		}
	}
	return true
}

// isVersioned reports whether the file name carries a content hash: a
// dot, 8 to 64 lowercase hex digits and its extension (boot.0c1d2e3f.js).
func isVersioned(name string) bool {
	base := path.Base(name)
	ext := path.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	i := strings.LastIndexByte(stem, '.')
	if i < 0 {
		return false
	}
	h := stem[i+1:]
	if len(h) < 8 || len(h) > 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// contentType is the media type of a file by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".webmanifest":
		return "application/manifest+json"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// acceptEncoding is a parsed Accept-Encoding header: the q-value of each
// coding named, and of "*".
type acceptEncoding struct {
	q     map[string]float64
	star  float64
	given bool // the header was present
}

// parseAcceptEncoding reads an Accept-Encoding header (RFC 9110, 12.5.3).
// Malformed parts are skipped.
func parseAcceptEncoding(h string) acceptEncoding {
	a := acceptEncoding{q: map[string]float64{}, star: -1, given: h != ""}
	for _, part := range strings.Split(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
				continue
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				q = 0
				continue
			}
			q = f
		}
		if coding == "*" {
			a.star = q
		} else {
			a.q[coding] = q
		}
	}
	return a
}

// allows reports whether the coding is acceptable (q > 0). Identity is
// acceptable unless refused by name or by "*;q=0".
func (a acceptEncoding) allows(coding string) bool {
	if q, ok := a.q[coding]; ok {
		return q > 0
	}
	if a.star >= 0 {
		return a.star > 0
	}
	return coding == "identity"
}
