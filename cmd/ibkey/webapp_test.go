package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWeb: serve --web DIR serves the built web app at /app/ beside
// the API and the portal, the compressed form the browser accepts; a
// folder without a web app is a one-line error before anything starts.
func TestServeWeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	web := filepath.Join(dir, "web")
	files := map[string]string{
		"index.html":                 "<!DOCTYPE html><title>IB Key</title>",
		"index.html.br":              "(brotli)",
		"ibkey.0123456789ab.wasm":    "\x00asm",
		"ibkey.0123456789ab.wasm.gz": "(gzip)",
		"manifest.webmanifest":       `{"name":"IB Key"}`,
	}
	if err := os.Mkdir(web, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(web, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	r := runIbkey(t, "", nil, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "none.db"), "--web", dir)
	wantFailure(t, r, []string{"serve --web (no index.html)"})
	if !strings.Contains(r.stderr, "make web") {
		t.Errorf("the error does not say how to build it: %q", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Errorf("the failed start made the database: %v", err)
	}

	cmd := exec.Command(ibkeyBinary(t), "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "svc.db"), "--web", web)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(line)
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Accept-Encoding", accept)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, c := range []struct {
		path, accept, body, ctype, enc string
	}{
		{"/app/", "gzip, deflate, br", "(brotli)", "text/html; charset=utf-8", "br"},
		{"/app/", "gzip", files["index.html"], "text/html; charset=utf-8", ""},
		{"/app/ibkey.0123456789ab.wasm", "gzip, deflate, br", "(gzip)", "application/wasm", "gzip"},
		{"/app/manifest.webmanifest", "br", files["manifest.webmanifest"], "application/manifest+json", ""},
	} {
		res, body := get(c.path, c.accept)
		if res.StatusCode != 200 || body != c.body || res.Header.Get("Content-Type") != c.ctype || res.Header.Get("Content-Encoding") != c.enc {
			t.Errorf("GET %s (%s): %d %q %q %q", c.path, c.accept, res.StatusCode, body, res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"))
		}
	}
	if res, _ := get("/app", ""); res.StatusCode/100 != 3 || res.Header.Get("Location") != "/app/" {
		t.Errorf("/app: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The API and the portal are still there.
	if res, body := get("/api/v1/logins/x", ""); res.StatusCode != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("the API: %d %q", res.StatusCode, body)
	}
	if res, _ := get("/login", ""); res.StatusCode != 200 {
		t.Errorf("the portal: %d", res.StatusCode)
	}
}
