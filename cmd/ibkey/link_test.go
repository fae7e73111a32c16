package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"

	"ibkey/portal/core"
	"ibkey/portal/store/sqlite"
)

// startLink starts an enrollment by link for username in the service's
// database, as the Client Portal's Add device page does.
func (s *svcEnv) startLink(username string) core.LinkEnrollment {
	s.t.Helper()
	st, _, err := sqlite.OpenKeyFile(s.db, "")
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	le, err := core.StartLinkEnrollment(context.Background(), st, rand.Reader, time.Now(), verifier.Config{}, username)
	if err != nil {
		s.t.Fatal(err)
	}
	return le
}

func TestLinkEnrollEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	const password, pin = "tr0ub4dor&3", "2468"
	s.must(password+"\n", "admin", "useradd", "--db", s.db, "--username", "alice", "--phone", "+15550001234")
	s.start()

	// The link: only the PIN, twice, is read.
	le := s.startLink("alice")
	out := s.must(pin+"\n"+pin+"\n", "--vault", s.vault, "users", "add", "--link", le.Link(s.url))
	if !strings.HasPrefix(out, "alice\tU") || !strings.HasSuffix(out, "\t"+s.url+"\n") {
		t.Fatalf("users add --link printed %q", out)
	}
	var l protocol.Login
	if c := s.post("/api/v1/logins", map[string]string{"username": "alice", "password": password}, &l); c != 201 {
		t.Fatalf("login: %d", c)
	}
	resp := strings.TrimSpace(s.must(pin+"\n", "--vault", s.vault, "respond", "--user", "alice", "--challenge", l.Challenge))
	if c := s.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": resp}, nil); c != 200 {
		t.Fatalf("response: %d", c)
	}
	// Used once: the same link again fails with one line.
	r := runIbkey(t, pin+"\n"+pin+"\n", []string{secretsEnv + "=file"}, "--vault", t.TempDir(), "users", "add", "--link", le.Link(s.url))
	wantFailure(t, r, []string{"users add --link (used)"})

	// The typed Session ID, with --service and another name, on a second
	// device: it replaces the first.
	le = s.startLink("alice")
	vault2 := s.dir + "/vault2"
	typed := strings.ToLower(protocol.FormatSessionID(le.SessionID))
	out = s.must("1357\n1357\n", "--vault", vault2, "users", "add", "--service", s.url, "--link", typed, "--name", "work")
	if !strings.HasPrefix(out, "work\tU") {
		t.Fatalf("users add --link SESSIONID printed %q", out)
	}
	if devs := s.must("", "admin", "devices", "--db", s.db, "--username", "alice"); strings.Count(devs, "\tactive\t") != 1 || strings.Count(devs, "\tretired\t") != 1 {
		t.Fatalf("devices: %q", devs)
	}
	if strings.Contains(s.logs.String(), le.SessionID) {
		t.Fatal("the log holds a Session ID")
	}

	// Usage errors.
	for _, args := range [][]string{
		{"users", "add", "--link", "not a link"},
		{"users", "add", "--link", "K7QF-2MZP-XW3D-9HJT"}, // no --service
		{"users", "add", "--link", le.Link(s.url), "--username", "alice"},
		{"users", "add", "--link", le.Link(s.url), "--service", "https://other.example"},
	} {
		r := runIbkey(t, "", []string{secretsEnv + "=file"}, append([]string{"--vault", t.TempDir()}, args...)...)
		wantFailure(t, r, args)
	}
}

// startArgs runs ibkey serve with extra flags and waits until it listens.
func (s *svcEnv) startArgs(extra ...string) {
	s.t.Helper()
	args := append([]string{"serve", "--addr", s.addr, "--db", s.db, "--outbox", s.outbox}, extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	cmd.Stderr = s.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		s.t.Fatalf("serve: %v; log:\n%s", err, s.logs.String())
	}
	s.url = strings.TrimSpace(line)
	s.serve = cmd
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files in dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ibkey test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLSAndPortal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := newSvcEnv(t)
	certFile, keyFile, pool := selfSigned(t, s.dir)
	s.must("password1\n", "admin", "useradd", "--db", s.db, "--username", "alice", "--phone", "+15550001234")
	s.startArgs("--tls-cert", certFile, "--tls-key", keyFile, "--dev-outbox")
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") {
		t.Fatalf("serve printed %q", s.url)
	}
	c := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// The pages, under TLS: the __Host- cookie (a visitor's CSRF nonce: no
	// session before a login) is Secure, HSTS is on.
	resp, body := get("/login")
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(body, `id="username"`) {
		t.Fatalf("/login: %d %q", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-ibkey_csrf" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("CSRF cookie %+v of %v", cookie, resp.Header["Set-Cookie"])
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatal("no HSTS under TLS")
	}
	// The API beside them.
	// The API beside them, with HSTS too.
	resp, body = get("/api/v1/service")
	if resp.StatusCode != 200 || !strings.Contains(body, "service_key") {
		t.Fatalf("/api/v1/service: %d %q", resp.StatusCode, body)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Fatalf("API answer under TLS without HSTS: %q", hsts)
	}
	resp, body = get("/api/v1/nothing")
	if resp.StatusCode != 404 || !strings.Contains(body, `"error":"not_found"`) || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("unknown API path: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// The developer outbox shows the code an enrollment sent.
	pc := &protocol.Client{BaseURL: s.url, HTTP: c}
	if _, err := pc.Enroll(t.Context(), protocol.EnrollRequest{Username: "alice", Password: "password1"}); err != nil {
		t.Fatal(err)
	}
	code := s.code(1)
	if resp, body = get("/outbox"); resp.StatusCode != 200 || !strings.Contains(body, code) {
		t.Fatalf("/outbox: %d, lacks the code", resp.StatusCode)
	}
	// Plain HTTP is not served on the TLS port.
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.url, "https://") + "/login"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
	s.kill()

	// Without TLS the pages are served too; no outbox without the flag.
	s.startArgs()
	resp, err := http.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("/login over HTTP: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(s.url + "/outbox")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/outbox without --dev-outbox: %d", resp.StatusCode)
	}
}

func TestServeFlagErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	certFile, keyFile, _ := selfSigned(t, dir)
	for _, args := range [][]string{
		{"serve", "--db", db, "--tls-cert", certFile},
		{"serve", "--db", db, "--tls-key", keyFile},
		{"serve", "--db", db, "--tls-cert", keyFile, "--tls-key", keyFile, "--addr", "127.0.0.1:0"},
		{"serve", "--db", db, "--dev-outbox", "--addr", "0.0.0.0:0"},
		{"serve", "--db", db, "--dev-outbox", "--addr", ":0"},
		{"serve", "--db", db, "--dev-outbox-public"},
		{"serve", "--db", db, "--public-url", "ftp://x"},
		{"serve", "--db", db, "--max-failures", "101"},
		{"serve", "--db", db, "--max-failures", "20", "--lockout", "21"},
		{"serve", "--db", db, "--sends-phone-day", "0"},
		{"serve", "--db", db, "--page-rate", "0"},
	} {
		r := runIbkey(t, "", nil, args...)
		wantFailure(t, r, args)
		if strings.Contains(strings.Join(args, " "), "0.0.0.0") && !strings.Contains(r.stderr, "--dev-outbox-public") {
			t.Errorf("%v: %q does not say how", args, r.stderr)
		}
	}
}
