package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// TestMain builds the ibkey binary once for the end-to-end tests.
func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// ibkeyBinary returns the path of a freshly built ibkey binary.
func ibkeyBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ibkey-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "ibkey")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// result is what one run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

// runIbkey runs the built binary with args and stdin, and the environment
// extra on top of a clean one.
func runIbkey(t testing.TB, stdin string, extra []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(ibkeyBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run ibkey %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{code, out.String(), errb.String()}
}

// wantFailure checks the contract for failures: a non-zero exit, nothing on
// stdout, and one line on stderr starting with "ibkey: ".
func wantFailure(t testing.TB, r result, args []string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("ibkey %s: exit 0, want a failure", strings.Join(args, " "))
	}
	if r.stdout != "" {
		t.Errorf("ibkey %s: stdout %q, want nothing", strings.Join(args, " "), r.stdout)
	}
	if !strings.HasPrefix(r.stderr, "ibkey: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("ibkey %s: stderr %q, want one line starting with \"ibkey: \"", strings.Join(args, " "), r.stderr)
	}
}
