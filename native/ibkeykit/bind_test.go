package ibkeykit_test

// The bindings tested as a native app uses them: TestJVM drives the Java
// bindings on the host JVM against a real `ibkey serve`; TestObjC compiles
// the Objective-C bindings against GNUstep. Both generate the bindings
// with the gobind that go.mod pins, into temporary folders.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module's root: two folders up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs a command in dir and fails the test with its output when it
// fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// need finds a tool that the test cannot do without: missing, the test
// fails (scripts/deps.sh test installs it), it does not skip.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: scripts/deps.sh test installs it", tool)
	}
	return p
}

// gobind generates the bindings of this package for lang into a new
// temporary folder and returns it.
func gobind(t *testing.T, lang string) string {
	t.Helper()
	out := t.TempDir()
	run(t, repoRoot(t), nil, "go", "tool", "gobind", "-lang=go,"+lang, "-outdir", out, "ibkey/native/ibkeykit")
	return out
}

// logShim stands in for Android's <android/log.h>, which the generated
// JNI code includes: on the host its messages go to stderr.
const logShim = `#pragma once
#include <stdarg.h>
#include <stdio.h>
enum { ANDROID_LOG_INFO = 4, ANDROID_LOG_FATAL = 7 };
static inline int __android_log_print(int prio, const char *tag, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", tag);
	int n = vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return n;
}
`

// buildJNI builds the Go side of the Java bindings in gen as libgojni.so
// for this host, against the JDK's jni.h, and returns its folder. The
// generated *_android.* files are the JNI side; they are copied without
// the suffix so that they build for linux, into a module that requires
// this one.
func buildJNI(t *testing.T, gen, jdk string) string {
	t.Helper()
	mod := t.TempDir()
	src := filepath.Join(gen, "src", "gobind")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".c") {
			if strings.Contains(name, "_darwin.") {
				continue
			}
			name = strings.Replace(name, "_android.", "_jni.", 1)
			// The shim has no liblog to link.
			b = bytes.ReplaceAll(b, []byte("//#cgo LDFLAGS: -llog\n"), nil)
		}
		if err := os.WriteFile(filepath.Join(mod, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(mod, "shim", "android"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "shim", "android", "log.h"), []byte(logShim), 0o644); err != nil {
		t.Fatal(err)
	}
	writeModule(t, mod, "ibkeyjni", nil)
	lib := t.TempDir()
	cflags := strings.Join([]string{
		"-I" + filepath.Join(jdk, "include"), "-I" + filepath.Join(jdk, "include", "linux"),
		"-I" + filepath.Join(mod, "shim"),
		// What gomobile defines for Android: the headers choose the JNI side.
		"-D__GOBIND_ANDROID__",
		// OpenJDK's jni.h declares some arguments without the const the
		// generated code passes.
		"-Wno-incompatible-pointer-types",
	}, " ")
	run(t, mod, []string{"CGO_ENABLED=1", "CGO_CFLAGS=" + cflags, "GOFLAGS=-mod=mod"},
		"go", "build", "-buildmode=c-shared", "-o", filepath.Join(lib, "libgojni.so"), ".")
	return lib
}

// service is an `ibkey serve` of its own, with one account.
type service struct {
	t       *testing.T
	bin     string
	db      string
	outbox  string
	url     string
	cmd     *exec.Cmd
	stderr  bytes.Buffer
	account string
	passwd  string
}

func startService(t *testing.T) *service {
	t.Helper()
	dir := t.TempDir()
	s := &service{
		t: t, bin: filepath.Join(dir, "ibkey"), db: filepath.Join(dir, "svc.db"),
		outbox: filepath.Join(dir, "outbox.jsonl"), account: "alice", passwd: "correct-horse-battery",
	}
	run(t, repoRoot(t), nil, "go", "build", "-o", s.bin, "./cmd/ibkey")
	cmd := exec.Command(s.bin, "admin", "useradd", "--db", s.db, "--username", s.account, "--phone", "+15550001234")
	cmd.Stdin = strings.NewReader(s.passwd + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("admin useradd: %v\n%s", err, out)
	}
	s.cmd = exec.Command(s.bin, "serve", "--addr", "127.0.0.1:0", "--db", s.db, "--outbox", s.outbox)
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("ibkey serve's log:\n%s", s.stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	s.url = strings.TrimSpace(line)
	if u, err := url.Parse(s.url); err != nil || u.Host == "" {
		t.Fatalf("serve printed %q, want its URL", line)
	}
	return s
}

// code waits for the n-th message of the outbox and returns its code.
func (s *service) code(n int) string {
	s.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(s.outbox)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(b) > 0 && len(lines) >= n {
			var m struct{ Code string }
			if err := json.Unmarshal([]byte(lines[n-1]), &m); err != nil || m.Code == "" {
				s.t.Fatalf("outbox line %q: %v", lines[n-1], err)
			}
			return m.Code
		}
	}
	s.t.Fatalf("no message %d in the outbox", n)
	return ""
}

// post posts in as JSON to the service and decodes a 2xx answer into out.
func (s *service) post(path string, in, out any) int {
	s.t.Helper()
	b, _ := json.Marshal(in)
	resp, err := http.Post(s.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			s.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

type login struct {
	ID        string `json:"id"`
	Challenge string `json:"challenge"`
	Push      bool   `json:"push"`
	Number    int    `json:"number"`
}

func (s *service) login(password string) login {
	s.t.Helper()
	var l login
	if c := s.post("/api/v1/logins", map[string]string{"username": s.account, "password": password, "app": "Client Portal", "browser": "jvm"}, &l); c != http.StatusCreated {
		s.t.Fatalf("POST /api/v1/logins: %d", c)
	}
	return l
}

func (s *service) status(id string) string {
	s.t.Helper()
	resp, err := http.Get(s.url + "/api/v1/logins/" + id)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&st)
	return st.Status
}

// javaApp is the Java program IbkeyJVM, running.
type javaApp struct {
	t      *testing.T
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
}

// do sends one command and returns the program's answer.
func (j *javaApp) do(cmd string) string {
	j.t.Helper()
	if _, err := io.WriteString(j.in, cmd+"\n"); err != nil {
		j.t.Fatalf("%s: %v\n%s", cmd, err, j.stderr)
	}
	line, err := j.out.ReadString('\n')
	if err != nil {
		j.t.Fatalf("%s: %v; java's stderr:\n%s", cmd, err, j.stderr)
	}
	return strings.TrimSpace(line)
}

// want sends cmd and checks that the answer matches the regular
// expression re; it returns the answer's submatches.
func (j *javaApp) want(cmd, re string) []string {
	j.t.Helper()
	got := j.do(cmd)
	m := regexp.MustCompile("^" + re + "$").FindStringSubmatch(got)
	if m == nil {
		j.t.Fatalf("%s: got %q, want %q", cmd, got, re)
	}
	return m
}

func TestJVM(t *testing.T) {
	if os.Getenv("IBKEY_TEST_JVM") != "1" {
		t.Skip("IBKEY_TEST_JVM=1 runs the Java bindings on the host JVM (scripts/test.sh does)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the JNI library is built for linux")
	}
	javac := need(t, "javac")
	java := need(t, "java")
	real, err := filepath.EvalSymlinks(javac)
	if err != nil {
		t.Fatal(err)
	}
	jdk := filepath.Dir(filepath.Dir(real))
	if _, err := os.Stat(filepath.Join(jdk, "include", "jni.h")); err != nil {
		t.Fatalf("no jni.h in the JDK at %s (install a JDK, not a JRE): %v", jdk, err)
	}

	gen := gobind(t, "java")
	lib := buildJNI(t, gen, jdk)

	classes := t.TempDir()
	var sources []string
	for _, dir := range []string{filepath.Join(gen, "java"), "testdata/jvm"} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".java") {
				sources = append(sources, p)
			}
			return err
		})
	}
	run(t, ".", nil, javac, append([]string{"-d", classes, "-Xlint:-options"}, sources...)...)

	svc := startService(t)
	vaultDir := filepath.Join(t.TempDir(), "vault")
	cmd := exec.Command(java, "-Djava.library.path="+lib, "-cp", classes, "IbkeyJVM", vaultDir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	j := &javaApp{t: t, in: in, out: bufio.NewReader(out), stderr: &bytes.Buffer{}}
	cmd.Stderr = j.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if line, err := j.out.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("IbkeyJVM: %q, %v; stderr:\n%s", line, err, j.stderr)
	}

	// The algorithms, with their RFCs' vectors. RFC 6287 Appendix C.1:
	// the 20-byte key "12345678901234567890", Q = 00000000.
	const key20 = "3132333435363738393031323334353637383930"
	j.want("ocra OCRA-1:HOTP-SHA1-6:QN08 "+key20+" 00000000", "237653")
	// RFC 4226 Appendix D: counter 1.
	j.want("hotp SHA1 "+key20+" 1 6", "287082")
	// RFC 6238 Appendix B: T = 59, SHA-1, 8 digits.
	j.want("totp SHA1 "+key20+" 59 30 8", "94287082")
	j.want("hotp MD5 "+key20+" 1 6", "error invalid")
	j.want("empty", "error invalid")

	// Enrollment: the code from the outbox; a wrong one first, then a
	// voice call for a second code.
	const pin, wrongPIN = "7391", "4826"
	j.want("enroll "+svc.url+" "+svc.account+" wrong-password sms", "error bad_credentials")
	j.want("enroll "+svc.url+" "+svc.account+" "+svc.passwd+" sms", "sent sms")
	first := svc.code(1)
	wrongCode := "000000"
	if first == wrongCode {
		wrongCode = "111111"
	}
	j.want("activate "+wrongCode, "error bad_code")
	j.want("resend voice", "sent voice")
	j.want("activate "+svc.code(2), "activated "+svc.account+" false")
	// The vault's PIN rules refuse a PIN before the confirmation is sent:
	// the activation waits for a better one.
	j.want("confirm Alice 1111", "error bad_pin")
	// The Java Biometrics throws Ibkeykit.CodeCancelled: the facade sees
	// the platform's cancellation, and the activation waits again.
	j.want("confirm-biometric Alice", "error cancelled")
	j.want("users", "users")
	m := j.want("confirm Alice "+pin, "user Alice (\\S+) pin (\\S+)")
	// The account is the service's id of it; the suite is docs/PROTOCOL.md's.
	if m[1] == "" || m[2] != "OCRA-1:HOTP-SHA256-8:QN06" {
		t.Errorf("enrolled user: account %q suite %q", m[1], m[2])
	}
	// The vault's keys are in the Java store; the first open found none.
	j.want("secrets", "secrets device-pepper vault-key misses=[1-9][0-9]*")

	// A challenge, answered: the service takes the right PIN's response.
	// A wrong PIN gives a response too, which only the service refuses.
	l := svc.login(svc.passwd)
	wrong := j.want("respond Alice "+l.Challenge+" "+wrongPIN, "response ([0-9]{8})")[1]
	if c := svc.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": wrong}, nil); c == http.StatusOK {
		t.Fatalf("the service took the response of a wrong PIN")
	}
	l = svc.login(svc.passwd)
	right := j.want("respond Alice "+l.Challenge+" "+pin, "response ([0-9]{8})")[1]
	if right == wrong {
		t.Fatalf("the right and the wrong PIN gave the same response %s", right)
	}
	if c := svc.post("/api/v1/logins/"+l.ID+"/response", map[string]string{"response": right}, nil); c != http.StatusOK {
		t.Fatalf("the service refused the response: %d", c)
	}
	if st := svc.status(l.ID); st != "approved" {
		t.Fatalf("login after the response: %q", st)
	}
	j.want("respond-biometric Alice "+l.Challenge, "error no_gate")

	// A seamless login, approved with the number the browser shows; a
	// number not among the three is refused first.
	l = svc.login(svc.passwd)
	if !l.Push || l.Number == 0 {
		t.Fatalf("login of an enrolled user: %+v", l)
	}
	m = j.want("poll Alice", "request (\\S+) Alice ([0-9]+) ([0-9]+) ([0-9]+)")
	if m[1] != l.ID || !slicesContain(m[2:], fmt.Sprint(l.Number)) {
		t.Fatalf("request %v for login %+v", m, l)
	}
	j.want("approve 1000 "+pin, "error wrong_number")
	j.want("approve "+fmt.Sprint(l.Number)+" "+pin, "approved")
	if st := svc.status(l.ID); st != "approved" {
		t.Fatalf("login after the approval: %q", st)
	}
	// Another, denied as fraud.
	l = svc.login(svc.passwd)
	j.want("poll Alice", "request "+l.ID+" Alice [0-9]+ [0-9]+ [0-9]+")
	j.want("deny fraud", "denied")
	if st := svc.status(l.ID); st != "denied" {
		t.Fatalf("login after the denial: %q", st)
	}

	// The inbox: a temporary password set by the administrator, opened
	// with the PIN; a wrong PIN opens nothing.
	run(t, ".", nil, svc.bin, "admin", "temp-password", "--db", svc.db, "--username", svc.account)
	j.want("inbox Alice "+wrongPIN, "error wrong_pin")
	temp := j.want("inbox Alice "+pin, "inbox temp_password (\\S+)")[1]
	if l := svc.login(temp); l.ID == "" {
		t.Fatalf("login with the temporary password")
	}

	// Users: the vault opens again over the same Java store.
	j.want("reopen", "reopened")
	j.want("rename Alice Work", "renamed")
	j.want("users", "users Work")
	j.want("rename Nobody X", "error no_user")
	j.want("gc", "gc")
	j.want("remove Work", "removed")
	j.want("users", "users")
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// writeModule writes files into mod and makes it a module that requires
// this one and the pinned golang.org/x/mobile, for the generated main
// package.
func writeModule(t *testing.T, mod, name string, files map[string][]byte) {
	t.Helper()
	root := repoRoot(t)
	mobile := strings.TrimSpace(run(t, root, nil, "go", "list", "-m", "-f", "{{.Version}}", "golang.org/x/mobile"))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string][]byte{
		"go.mod": fmt.Appendf(nil, "module %s\n\ngo 1.26.0\n\nrequire (\n\tibkey v0.0.0\n\tgolang.org/x/mobile %s\n)\n\nreplace ibkey => %s\n", name, mobile, root),
		"go.sum": sum,
	}
	for n, b := range files {
		all[n] = b
	}
	for n, b := range all {
		if err := os.WriteFile(filepath.Join(mod, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
