package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ibkey/portal/store"
	"ibkey/portal/store/storetest"
)

func engine() storetest.Engine {
	return storetest.Engine{
		New: func(t testing.TB) string { return filepath.Join(t.TempDir(), "store.db") },
		Open: func(t testing.TB, name string, key *store.MasterKey) (store.Store, error) {
			st, err := Open(name, key)
			if err != nil {
				return nil, err // a nil *Store is not a nil store.Store
			}
			return st, nil
		},
		Exec: func(t testing.TB, st store.Store, q string, args ...any) error {
			t.Helper()
			_, err := st.(*Store).DB().Exec(q, args...)
			if err != nil {
				t.Fatal(err)
			}
			return err
		},
		Bytes: func(t testing.TB, st store.Store, q string, args ...any) []byte {
			t.Helper()
			var b []byte
			if err := st.(*Store).DB().QueryRow(q, args...).Scan(&b); err != nil {
				t.Fatal(err)
			}
			return b
		},
	}
}

// TestStore runs the suite of every engine on SQLite files.
func TestStore(t *testing.T) { storetest.Run(t, engine()) }

// TestFirstStartRace starts several opens of one new database at once:
// one key file is made, never replaced, and every open uses it.
func TestFirstStartRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.db")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	made := make([]bool, n)
	for i := range n {
		wg.Go(func() {
			st, m, err := OpenKeyFile(path, "")
			if err == nil {
				err = st.Update(context.Background(), func(tx store.Tx) error { return tx.PutMeta("service_key", []byte("seed")) })
				st.Close()
			}
			errs[i], made[i] = err, m
		})
	}
	wg.Wait()
	makers := 0
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		if made[i] {
			makers++
		}
	}
	if makers != 1 {
		t.Errorf("%d opens say they made the key file", makers)
	}
	st, made1, err := OpenKeyFile(path, "")
	if err != nil || made1 {
		t.Fatal(err, made1)
	}
	st.Close()
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestOpenNeedsKey(t *testing.T) {
	if _, err := Open(":memory:", nil); err == nil {
		t.Fatal("opened without a key")
	}
	if _, _, err := OpenKeyFile(":memory:", ""); err == nil {
		t.Fatal("an in-memory database with a key file beside it")
	}
	k, _ := store.NewMasterKey(make([]byte, store.MasterKeySize))
	st, err := Open(":memory:", k)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := store.NewMasterKey(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte master key")
	}
	if s := strings.Join([]string{k.String(), k.GoString()}, " "); s != "store.MasterKey(redacted) store.MasterKey(redacted)" {
		t.Fatalf("a key prints as %q", s)
	}
}

// TestKeyFile opens a sealed database with a wrong, a missing and a
// damaged key file: each is a one-line error, and neither the database
// nor the key file changes.
func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svc.db")
	keyFile := DefaultKeyFile(path)
	st, made, err := OpenKeyFile(path, "")
	if err != nil || !made {
		t.Fatal(err, made)
	}
	st.Close()
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != store.MasterKeySize {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	good, _ := os.ReadFile(keyFile)
	before, _ := os.ReadFile(path)
	wrongFile := filepath.Join(dir, "wrong.key")
	os.WriteFile(wrongFile, bytes.Repeat([]byte{1}, store.MasterKeySize), 0o600)
	shortFile := filepath.Join(dir, "short.key")
	os.WriteFile(shortFile, good[:31], 0o600)
	missing := filepath.Join(dir, "none.key")
	for _, c := range []struct{ keyFile, want string }{
		{wrongFile, "store: the key file does not open this database (" + wrongFile + ")"},
		{missing, "store: the key file does not open this database (" + missing + " is missing)"},
		{shortFile, "store: key file " + shortFile + " is not 32 bytes"},
	} {
		if _, _, err := OpenKeyFile(path, c.keyFile); err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the database changed")
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a key file was made over a sealed database")
	}
}

// TestReadsDoNotWaitForWrites holds a write transaction open and reads
// meanwhile: the read answers with the last committed state.
func TestReadsDoNotWaitForWrites(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "rw.db"), storetest.Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.Update(ctx, func(tx store.Tx) error { return tx.PutMeta("k", []byte("before")) })
	inWrite, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- st.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutMeta("k", []byte("after")); err != nil {
				return err
			}
			close(inWrite)
			<-release
			return nil
		})
	}()
	<-inWrite
	var v []byte
	if err := st.View(ctx, func(tx store.Tx) error { v, err = tx.Meta("k"); return err }); err != nil || string(v) != "before" {
		t.Fatalf("read during a write: %q %v", v, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.View(ctx, func(tx store.Tx) error { v, err = tx.Meta("k"); return err })
	if string(v) != "after" {
		t.Fatalf("read after the write: %q", v)
	}
}

// TestGroupCommit: writes that wait together share a commit, and each
// keeps its own outcome: committed, rolled back, or committed with its
// refusal; a write whose statement fails is undone alone; a write whose
// context ended while it waited does not run.
func TestGroupCommit(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "group.db"), storetest.Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.Update(ctx, func(tx store.Tx) error { return tx.InsertMeta("taken", []byte("x")) })
	const n = 40
	errRefused := errors.New("refused")
	release := make(chan struct{})
	first := make(chan error, 1)
	// The first write holds the writer until the others wait.
	go func() {
		first <- st.Update(ctx, func(tx store.Tx) error {
			<-release
			return tx.PutMeta("first", []byte("1"))
		})
	}()
	for len(st.wr.queue) > 0 || st.wr.grouped.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // the first is in its function
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := ctx
			if i == n-1 {
				c = cancelled
			}
			errs[i] = st.Update(c, func(tx store.Tx) error {
				if err := tx.PutMeta(fmt.Sprint("k", i), []byte("v")); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return errRefused
				case 2:
					return store.Commit(errRefused)
				case 3:
					return tx.InsertMeta("taken", []byte("y")) // ErrExists
				}
				return nil
			})
		})
	}
	for len(st.wr.queue) < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if g := st.wr.grouped.Load(); g < n/2 {
		t.Fatalf("%d writes committed in groups", g)
	}
	for i := range n {
		var want error
		kept := true
		switch {
		case i == n-1:
			want, kept = context.Canceled, false
		case i%4 == 1:
			want, kept = errRefused, false
		case i%4 == 2:
			want = errRefused
		case i%4 == 3:
			want, kept = store.ErrExists, false
		}
		if !errors.Is(errs[i], want) || (want == nil && errs[i] != nil) {
			t.Errorf("write %d: %v, want %v", i, errs[i], want)
		}
		var v []byte
		st.View(ctx, func(tx store.Tx) error { v, _ = tx.Meta(fmt.Sprint("k", i)); return nil })
		if (v != nil) != kept {
			t.Errorf("write %d: kept %v, want %v", i, v != nil, kept)
		}
	}
	var v []byte
	st.View(ctx, func(tx store.Tx) error { v, _ = tx.Meta("taken"); return nil })
	if string(v) != "x" {
		t.Errorf("taken: %q", v)
	}
}

// TestBackup copies the database while it is written: the copy opens with
// the same key and holds what was committed.
func TestBackup(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(filepath.Join(dir, "live.db"), storetest.Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	st.Update(ctx, func(tx store.Tx) error { return tx.InsertMeta("service_key", bytes.Repeat([]byte{3}, 32)) })
	copyPath := filepath.Join(dir, "copy.db")
	if err := st.Backup(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	if err := st.Backup(ctx, copyPath); err == nil {
		t.Fatal("a backup over an existing file")
	}
	if fi, err := os.Stat(copyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v %v", fi, err)
	}
	if _, err := Open(copyPath, storetest.Key(t, 8)); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("the copy with another key: %v", err)
	}
	cp, err := Open(copyPath, storetest.Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var v []byte
	cp.View(ctx, func(tx store.Tx) error { v, err = tx.Meta("service_key"); return err })
	if !bytes.Equal(v, bytes.Repeat([]byte{3}, 32)) {
		t.Fatalf("service key in the copy: %x %v", v, err)
	}
}
