// Package storagetest checks a backend of the storage seam that the vault
// and the file store keep their files behind: the file system's
// (atomicfile.Dir) and the browser's (IndexedDB) pass the same suite.
package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Storage is the seam, as its consumers declare it.
type Storage interface {
	Read(name string, limit int64, now time.Time) (data []byte, stamp string, err error)
	Stamp(name string) (string, error)
	Replace(name string, data []byte) error
	TryLock(name string) (unlock func(), ok bool, err error)
}

// Options describe the backend under test.
type Options struct {
	// Open returns a handle on the storage called where, empty the first
	// time: two calls with one where are two handles on the same files
	// (two processes, two tabs, a reload).
	Open func(t *testing.T, where string) Storage
	// Stamps: a file read a minute after it was written has a stamp.
	// False where the backend cannot give one (the files of a system
	// without change times); Stamp must then return "".
	Stamps bool
}

// Run runs the suite.
func Run(t *testing.T, o Options) {
	t.Run("ReadReplace", func(t *testing.T) { readReplace(t, o) })
	t.Run("Stamp", func(t *testing.T) { stamp(t, o) })
	t.Run("Lock", func(t *testing.T) { lock(t, o) })
	t.Run("Writers", func(t *testing.T) { writers(t, o) })
}

var later = time.Now().Add(time.Hour)

func read(t *testing.T, s Storage, name string) []byte {
	t.Helper()
	data, _, err := s.Read(name, 1<<20, later)
	if err != nil {
		t.Fatalf("Read(%q): %v", name, err)
	}
	return data
}

func readReplace(t *testing.T, o Options) {
	s := o.Open(t, "rr")
	if _, _, err := s.Read("f", 100, later); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Stamp("f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stamp of a missing file: %v, want fs.ErrNotExist", err)
	}
	big := bytes.Repeat([]byte{0, 1, 0xFE, 0xFF}, 64<<10) // 256 KiB, binary
	for _, data := range [][]byte{[]byte("first"), []byte("second, longer"), {}, big, []byte("last")} {
		in := bytes.Clone(data)
		if err := s.Replace("f", in); err != nil {
			t.Fatalf("Replace with %d bytes: %v", len(data), err)
		}
		if len(in) > 0 {
			in[0] ^= 0xFF // the backend must have copied it
		}
		if got := read(t, s, "f"); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, want the %d written", len(got), len(data))
		}
	}
	if err := s.Replace("g", []byte("other")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "f"); string(got) != "last" {
		t.Fatalf("writing g changed f: %q", got)
	}
	if err := s.Replace("f", big); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Read("f", 10, later); err != nil || !bytes.Equal(got, big[:10]) {
		t.Fatalf("Read with limit 10: %d bytes, %v; want the first 10", len(got), err)
	}
	// Another handle (another process, a reload) reads what was written.
	if got := read(t, o.Open(t, "rr"), "f"); !bytes.Equal(got, big) {
		t.Fatalf("another handle reads %d bytes, want %d", len(got), len(big))
	}
	for _, bad := range []string{"", "a/b", ".."} {
		if err := s.Replace(bad, []byte("x")); err == nil {
			t.Errorf("Replace(%q): no error", bad)
		}
	}
}

func stamp(t *testing.T, o Options) {
	s, other := o.Open(t, "st"), o.Open(t, "st")
	if err := s.Replace("f", []byte("one")); err != nil {
		t.Fatal(err)
	}
	_, st, err := s.Read("f", 100, later)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Stamps {
		if st != "" {
			t.Fatalf("Read gave stamp %q, want none", st)
		}
		if now, err := s.Stamp("f"); err != nil || now != "" {
			t.Fatalf("Stamp = %q, %v; want none", now, err)
		}
		return
	}
	if st == "" {
		t.Fatal("Read an hour after the write gave no stamp")
	}
	for i, h := range []Storage{s, other} {
		if now, err := h.Stamp("f"); err != nil || now != st {
			t.Fatalf("handle %d: Stamp = %q, %v; want Read's %q", i, now, err, st)
		}
	}
	seen := map[string]bool{st: true}
	for i, w := range []Storage{s, other, s} {
		if err := w.Replace("f", []byte("one")); err != nil { // the same bytes
			t.Fatal(err)
		}
		for j, h := range []Storage{s, other} {
			now, err := h.Stamp("f")
			if err != nil {
				t.Fatal(err)
			}
			if seen[now] {
				t.Fatalf("write %d: handle %d has a stamp seen before: a write went unnoticed", i, j)
			}
		}
		_, st, err := s.Read("f", 100, later)
		if err != nil || st == "" {
			t.Fatalf("Read: stamp %q, %v", st, err)
		}
		seen[st] = true
	}
}

func lock(t *testing.T, o Options) {
	a, b := o.Open(t, "lk"), o.Open(t, "lk")
	unlock, ok, err := a.TryLock("l")
	if err != nil || !ok {
		t.Fatalf("TryLock of a free lock: %v, %v", ok, err)
	}
	if _, ok, err := b.TryLock("l"); err != nil || ok {
		t.Fatalf("a second holder got a held lock: %v, %v", ok, err)
	}
	if _, ok, err := a.TryLock("l"); err != nil || ok {
		t.Fatalf("the same handle got its held lock again: %v, %v", ok, err)
	}
	u2, ok, err := b.TryLock("m")
	if err != nil || !ok {
		t.Fatalf("another lock is not free: %v, %v", ok, err)
	}
	u2()
	unlock()
	unlock() // harmless
	u3, ok, err := b.TryLock("l")
	if err != nil || !ok {
		t.Fatalf("TryLock after unlock: %v, %v", ok, err)
	}
	u3()
}

// Add is one read-modify-write under the lock: it appends line to the
// file called name, waiting for the lock as the vault does. Writers of
// other tabs or processes call it too.
func Add(s Storage, name, line string) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		unlock, ok, err := s.TryLock(name + ".lock")
		if err != nil {
			return err
		}
		if !ok {
			time.Sleep(wait)
			continue
		}
		defer unlock()
		data, _, err := s.Read(name, 1<<20, time.Now())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return s.Replace(name, append(data, line+"\n"...))
	}
}

// Lines returns the lines of the file called name, and fails on one that
// is there twice.
func Lines(s Storage, name string) (map[string]bool, error) {
	data, _, err := s.Read(name, 1<<20, time.Now())
	if err != nil {
		return nil, err
	}
	lines := map[string]bool{}
	for _, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if lines[string(l)] {
			return nil, fmt.Errorf("storagetest: line %q twice", l)
		}
		lines[string(l)] = true
	}
	return lines, nil
}

// writers: two handles appending at once under the lock lose nothing.
func writers(t *testing.T, o Options) {
	const per = 25
	handles := []Storage{o.Open(t, "wr"), o.Open(t, "wr")}
	var wg sync.WaitGroup
	errs := make(chan error, len(handles)*per)
	for i, s := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				errs <- Add(s, "f", strconv.Itoa(i)+"-"+strconv.Itoa(j))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lines, err := Lines(handles[0], "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(handles)*per {
		t.Fatalf("%d lines, want %d: a write was lost", len(lines), len(handles)*per)
	}
}
