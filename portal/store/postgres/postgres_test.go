package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"ibkey/internal/pgtest"
	"ibkey/portal/store"
	"ibkey/portal/store/storetest"
)

var server pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func engine() storetest.Engine {
	return storetest.Engine{
		New: func(t testing.TB) string { return server.Database(t) },
		Open: func(t testing.TB, name string, key *store.MasterKey) (store.Store, error) {
			st, err := Open(context.Background(), name, key)
			if err != nil {
				return nil, err
			}
			return st, nil
		},
		Exec: func(t testing.TB, st store.Store, q string, args ...any) error {
			t.Helper()
			_, err := st.(*Store).Pool().Exec(context.Background(), dialect.Q(q), args...)
			if err != nil {
				t.Fatal(err)
			}
			return err
		},
		Bytes: func(t testing.TB, st store.Store, q string, args ...any) []byte {
			t.Helper()
			var b []byte
			if err := st.(*Store).Pool().QueryRow(context.Background(), dialect.Q(q), args...).Scan(&b); err != nil {
				t.Fatal(err)
			}
			return b
		},
	}
}

// TestStore runs the suite of every engine on a real PostgreSQL server.
func TestStore(t *testing.T) { storetest.Run(t, engine()) }

func openTest(t *testing.T, url string) *Store {
	t.Helper()
	st, err := Open(context.Background(), url, storetest.Key(t, 7))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRetries: a transaction that fails on a serialization failure or a
// deadlock runs again, MaxAttempts times at most; any other error ends it
// at once.
func TestRetries(t *testing.T) {
	st := openTest(t, server.Database(t))
	st.retryWait = time.Millisecond
	ctx := context.Background()
	for _, c := range []struct {
		code string
		want int
	}{{"40001", MaxAttempts}, {"40P01", MaxAttempts}, {"23505", 1}, {"", 1}} {
		runs := 0
		err := st.Update(ctx, func(tx store.Tx) error {
			runs++
			if c.code == "" {
				return errors.New("a plain error")
			}
			return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: c.code})
		})
		if runs != c.want || err == nil {
			t.Errorf("code %q: %d runs, %v; want %d runs and the error", c.code, runs, err, c.want)
		}
	}
	// A transaction that fails twice and then commits.
	runs := 0
	err := st.Update(ctx, func(tx store.Tx) error {
		runs++
		if err := tx.PutMeta("retried", []byte(fmt.Sprint(runs))); err != nil {
			return err
		}
		if runs < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	var v []byte
	st.View(ctx, func(tx store.Tx) error { v, _ = tx.Meta("retried"); return nil })
	if err != nil || runs != 3 || string(v) != "3" {
		t.Fatalf("%d runs, %v, meta %q", runs, err, v)
	}
}

// TestDeadlockRetried makes two transactions take two accounts in
// opposite orders: PostgreSQL ends one with a deadlock, and Update runs it
// again; both commit.
func TestDeadlockRetried(t *testing.T) {
	st := openTest(t, server.Database(t))
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, u := range []string{"a", "b"} {
		if err := st.Update(ctx, func(tx store.Tx) error {
			return tx.InsertAccount(store.Account{Username: u, Account: "U" + u, Phone: "+1555", Password: "x", Created: t0})
		}); err != nil {
			t.Fatal(err)
		}
	}
	var runs atomic.Int32
	var both sync.WaitGroup
	both.Add(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			first := true
			errs[i] = st.Update(ctx, func(tx store.Tx) error {
				runs.Add(1)
				a, err := tx.Account(order[0])
				if err != nil {
					return err
				}
				if first {
					// Both hold their first account before either asks
					// for its second.
					first = false
					both.Done()
					both.Wait()
				}
				b, err := tx.Account(order[1])
				if err != nil {
					return err
				}
				a.Lockout.Failures++
				b.Lockout.Failures++
				if err := tx.UpdateAccount(a); err != nil {
					return err
				}
				return tx.UpdateAccount(b)
			})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("errors %v", errs)
	}
	if runs.Load() < 3 {
		t.Fatalf("%d runs: no deadlock was met", runs.Load())
	}
	st.View(ctx, func(tx store.Tx) error {
		for _, u := range []string{"a", "b"} {
			if a, _ := tx.Account(u); a.Lockout.Failures != 2 {
				t.Errorf("%s: %d failures, want 2", u, a.Lockout.Failures)
			}
		}
		return nil
	})
}

// TestInstancesStartTogether opens one new database from several
// instances at once: the schema is made once, under the one key.
func TestInstancesStartTogether(t *testing.T) {
	url := server.Database(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	var made atomic.Int32
	for i := range n {
		wg.Go(func() {
			st, m, err := OpenKeyFile(context.Background(), url, keyFile)
			if err == nil {
				st.Close()
			}
			if m {
				made.Add(1)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if made.Load() != 1 {
		t.Fatalf("%d instances made the key file", made.Load())
	}
	var version int
	c, _, _ := OpenKeyFile(context.Background(), url, keyFile)
	defer c.Close()
	c.Pool().QueryRow(context.Background(), "SELECT version FROM schema_version").Scan(&version)
	if version != Versions() {
		t.Fatalf("schema version %d, want %d", version, Versions())
	}
	if _, _, err := OpenKeyFile(context.Background(), url, ""); err == nil || !strings.Contains(err.Error(), "--key-file") {
		t.Fatalf("no key file named: %v", err)
	}
}

// TestListenReconnects ends the listener's connection from the server
// side: the listener connects again, says so with "", and notifications
// reach it again.
func TestListenReconnects(t *testing.T) {
	st := openTest(t, server.Database(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 16)
	go st.Listen(ctx, func(id string) { got <- id })
	next := func() string {
		t.Helper()
		select {
		case id := <-got:
			return id
		case <-time.After(10 * time.Second):
			t.Fatal("nothing from the listener")
			return ""
		}
	}
	if id := next(); id != "" {
		t.Fatalf("first call %q, want \"\"", id)
	}
	if _, err := st.Pool().Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	if id := next(); id != "" {
		t.Fatalf("after the connection was lost: %q, want \"\"", id)
	}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Notify("dev-9") }); err != nil {
		t.Fatal(err)
	}
	if id := next(); id != "dev-9" {
		t.Fatalf("after reconnecting: %q", id)
	}
}
