package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := Write(path, data); err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(path, 1<<20, time.Now())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read = %d bytes, %v; want the %d written", len(got), err, len(data))
	}
	got, _, err = Read(path, 100, time.Now())
	if err != nil || !bytes.Equal(got, data[:100]) {
		t.Fatalf("Read with limit 100 = %d bytes, %v", len(got), err)
	}
	if _, _, err := Read(filepath.Join(t.TempDir(), "none"), 100, time.Now()); !os.IsNotExist(err) {
		t.Fatalf("Read of a missing file: %v, want not-exist", err)
	}
}

// hasStamps skips on systems whose files have no change time.
func hasStamps(t *testing.T) {
	t.Helper()
	if !strings.Contains("linux android darwin ios freebsd netbsd", runtime.GOOS) {
		t.Skip("no change times on " + runtime.GOOS)
	}
}

// TestStamp: a stamp is given only for a file last changed a while before
// the read, and every kind of change afterwards changes it: a replace, a
// write in place of the same length, even one whose times are then set
// back.
func TestStamp(t *testing.T) {
	hasStamps(t)
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	later := func() time.Time { return time.Now().Add(time.Minute) }
	if err := Write(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if _, st, err := Read(path, 100, time.Now()); err != nil || st != "" {
		t.Fatalf("Read just after a write: stamp %q, %v; want none (too fresh to tell)", st, err)
	}
	read := func() string {
		t.Helper()
		_, st, err := Read(path, 100, later())
		if err != nil || st == "" {
			t.Fatalf("Read a minute later: stamp %q, %v; want one", st, err)
		}
		if now, err := Stamp(path); err != nil || now != st {
			t.Fatalf("Stamp = %q, %v; want Read's %q", now, err, st)
		}
		return st
	}
	changed := func(how string, old string) {
		t.Helper()
		if now, err := Stamp(path); err != nil || now == old {
			t.Fatalf("after %s: Stamp unchanged (%v)", how, err)
		}
	}

	st := read()
	if err := Write(path, []byte("first")); err != nil { // the same bytes
		t.Fatal(err)
	}
	changed("a replace", st)

	st = read()
	if err := os.WriteFile(path, []byte("firsT"), 0o600); err != nil { // in place
		t.Fatal(err)
	}
	changed("a write in place of the same length", st)

	st = read()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("fIrsT"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	changed("a write in place with the times set back", st)

	if _, err := Stamp(filepath.Join(t.TempDir(), "none")); !os.IsNotExist(err) {
		t.Fatalf("Stamp of a missing file: %v, want not-exist", err)
	}
}
