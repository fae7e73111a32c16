package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var shared Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

// psql runs one statement against url with the server's own psql.
func psql(t *testing.T, url, stmt string) string {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", stmt, url).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v: %s", stmt, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestDatabasesAreSeparate(t *testing.T) {
	a, b := shared.Database(t), shared.Database(t)
	if a == b {
		t.Fatalf("two databases share one URL: %s", a)
	}
	psql(t, a, "CREATE TABLE x (v int); INSERT INTO x VALUES (42)")
	if got := psql(t, a, "SELECT v FROM x"); got != "42" {
		t.Fatalf("read back %q, want 42", got)
	}
	if got := psql(t, b, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'"); got != "0" {
		t.Fatalf("the second database sees the first one's table: %q", got)
	}
}

func TestStopRemovesEverything(t *testing.T) {
	if _, err := BinDir(); err != nil {
		if Required() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.NewDatabase(context.Background())
	if err != nil {
		s.Stop()
		t.Fatal(err)
	}
	psql(t, url, "SELECT 1")
	dir := s.dir
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the server's folder is still there after Stop: %v", err)
	}
	bin, _ := BinDir()
	if out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port)).CombinedOutput(); err == nil {
		t.Fatalf("the server still answers after Stop: %s", out)
	}
}
