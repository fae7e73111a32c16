package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"ibkey/authcore/verifier"
	"ibkey/internal/pgtest"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/postgres"
	"ibkey/portal/store/sqlite"
)

// The service's scale: responses a second as clients are added, on each
// engine and with one or two instances on PostgreSQL, and the cost of a
// response and of a login's start in a store of a million accounts.
//
//	go test -run '^$' -bench 'Responses|StoreSize' -benchtime 20000x ./portal/
//
// (make bench-service.) The PostgreSQL ones start a server (internal/pgtest)
// and are skipped without one. Each engine runs as deployed: SQLite as the
// store opens it (WAL, synchronous NORMAL: a commit is not flushed, a
// checkpoint is), PostgreSQL with its defaults (a commit waits for its log
// on disk, and concurrent commits share a flush). "postgres-nosync" is
// PostgreSQL flushing nothing, as the tests run it: what the processor
// alone allows, the database on the same two cores as the service and its
// clients.

// pgBench is the PostgreSQL server of the benchmarks, as deployed.
var pgBench = pgtest.Shared{Durable: true}

// benchUsers is how many users the responses are spread over: responses
// of one user take the user's account row one at a time, as they must.
const benchUsers = 64

// benchEngine opens a new store of engine.
func benchEngine(b *testing.B, engine string) string {
	b.Helper()
	switch engine {
	case "sqlite":
		return filepath.Join(b.TempDir(), "bench.db")
	case "postgres":
		return pgBench.Database(b)
	case "postgres-nosync":
		return pg.Database(b)
	}
	b.Fatalf("no engine %s", engine)
	return ""
}

func benchOpen(b *testing.B, name string) store.Store {
	b.Helper()
	var st store.Store
	var err error
	if postgres.IsURL(name) {
		st, err = postgres.Open(context.Background(), name, testKey(b))
	} else {
		st, err = sqlite.Open(name, testKey(b))
	}
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// benchInstance is one service on the store named, its API behind a
// loopback HTTP server; limits turns the per-address limit on (a bucket
// taken in the store by every request, which never runs out here).
func benchInstance(b *testing.B, name string, argon core.Argon2Params, limits bool) *harness {
	b.Helper()
	return newHarnessStore(b, benchOpen(b, name), func(c *core.Config) {
		c.Argon2 = argon
		c.Limits.MaxOutstanding = 1 << 30
		c.Log = discardLog()
		if limits {
			c.Rate = core.RateLimit{PerIP: 1e6, IPBurst: 1e6, PerAccount: 1e6, AccountBurst: 1e6}
		}
	})
}

// job is one login waiting for its right response.
type job struct{ id, body string }

// benchDevices makes benchUsers users on h, each with a device.
func benchDevices(b *testing.B, h *harness) []*device {
	b.Helper()
	devs := make([]*device, benchUsers)
	for i := range devs {
		u := fmt.Sprintf("bench%03d", i)
		if _, err := core.CreateAccount(context.Background(), h.store, rand.Reader, h.clock.Now(), u, fmt.Sprintf("+1555%07d", i), "password1", fastArgon); err != nil {
			b.Fatal(err)
		}
		devs[i] = h.enroll(u, "password1")
	}
	return devs
}

// benchJobs inserts n pending logins spread over the users of devs,
// straight into the store.
func benchJobs(b *testing.B, h *harness, devs []*device, n int) []job {
	b.Helper()
	jobs := make([]job, n)
	now := h.clock.Now()
	for start := 0; start < n; start += 1000 {
		err := h.store.Update(context.Background(), func(tx store.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				d := devs[i%benchUsers]
				id, _ := verifier.NewID(rand.Reader)
				ch, _ := verifier.NewChallenge(rand.Reader)
				if err := tx.InsertLogin(store.Login{ID: id, Username: fmt.Sprintf("bench%03d", i%benchUsers), DeviceID: d.id, Kind: store.KindLogin, Challenge: ch, Status: store.StatusPending, Created: now, Expires: now.Add(time.Hour)}); err != nil {
					return err
				}
				jobs[i] = job{id, `{"response":"` + d.respond(b, ch) + `"}`}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return jobs
}

// submit posts the responses of jobs from clients goroutines, each with
// its own keep-alive connection, to the servers in turn.
func submit(b *testing.B, urls []string, jobs []job, clients int) {
	b.Helper()
	next := make(chan job, len(jobs))
	for _, j := range jobs {
		next <- j
	}
	close(next)
	var wg sync.WaitGroup
	for c := range clients {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, DialContext: (&net.Dialer{}).DialContext}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		url := urls[c%len(urls)]
		wg.Go(func() {
			for j := range next {
				resp, err := client.Post(url+"/api/v1/logins/"+j.id+"/response", "application/json", bytes.NewReader([]byte(j.body)))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkResponses: right responses a second over HTTP on loopback, by
// engine, number of instances and of concurrent clients; with the
// per-address limit off (as the other benchmarks) and on (a bucket of the
// store taken by each response).
func BenchmarkResponses(b *testing.B) {
	for _, c := range []struct {
		engine    string
		instances int
		limits    bool
	}{{"sqlite", 1, false}, {"postgres", 1, false}, {"postgres", 2, false}, {"postgres-nosync", 1, false}, {"sqlite", 1, true}, {"postgres", 1, true}} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/instances=%d/limits=%v/clients=%d", c.engine, c.instances, c.limits, clients), func(b *testing.B) {
				name := benchEngine(b, c.engine)
				var hs []*harness
				var urls []string
				for range c.instances {
					h := benchInstance(b, name, fastArgon, c.limits)
					hs = append(hs, h)
					urls = append(urls, h.ts.URL)
				}
				// The steady state: the first responses at this many
				// clients open the pool's connections (a process each on
				// PostgreSQL) and prepare their statements, untimed.
				warm := 64 * clients
				jobs := benchJobs(b, hs[0], benchDevices(b, hs[0]), warm+b.N)
				submit(b, urls, jobs[:warm], clients)
				settle(b, hs[0].store)
				b.ResetTimer()
				submit(b, urls, jobs[warm:], clients)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
			})
		}
	}
}

// settle leaves autovacuum and the checkpointer nothing to do on a
// PostgreSQL store while a benchmark runs, after its setup wrote in bulk:
// as the store of a service that has been running.
func settle(b *testing.B, st store.Store) {
	b.Helper()
	if s, ok := st.(*postgres.Store); ok {
		for _, q := range []string{"VACUUM ANALYZE", "CHECKPOINT"} {
			if _, err := s.Pool().Exec(context.Background(), q); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// seed fills the store named with n accounts, each with an active device
// and an old login, in bulk (a cheap password hash, secrets that do not
// open: the accounts are never used), as a store of a service with n
// users.
func seed(b *testing.B, name string, n int) {
	b.Helper()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	hash, _ := core.HashPassword(rand.Reader, "password1", fastArgon)
	row := func(i int) (acct, dev, login []any) {
		u := "seed" + strconv.Itoa(i)
		id := fmt.Sprintf("%032x", i)
		secret := make([]byte, 32+41)
		acct = []any{u, fmt.Sprintf("S%09d", i), "+15550001234", hash, false, 0, int64(0), false, now}
		dev = []any{"d" + id, u, "e" + id, store.DeviceActive, "OCRA-1:HOTP-SHA256-8:QN06", secret, make([]byte, 32), make([]byte, 32), "123456", now, now, now, int64(0)}
		login = []any{"l" + id, u, "d" + id, store.KindLogin, "123456", store.StatusApproved, now, now + int64(3*time.Minute)}
		return
	}
	acctCols := []string{"username", "account", "phone", "password", "must_change", "failures", "locked_until", "hard_lock", "created"}
	devCols := []string{"id", "username", "enrollment", "state", "suite", "secret", "channel_hash", "delivery_key", "confirm_challenge", "created", "expires", "activated", "retired"}
	loginCols := []string{"id", "username", "device_id", "kind", "challenge", "status", "created", "expires"}
	st := benchOpen(b, name)
	defer st.Close()
	switch s := st.(type) {
	case *postgres.Store:
		ctx := context.Background()
		for _, t := range []struct {
			table string
			cols  []string
			pick  int
		}{{"accounts", acctCols, 0}, {"devices", devCols, 1}, {"logins", loginCols, 2}} {
			rows := make([][]any, 0, n)
			for i := range n {
				a, d, l := row(i)
				rows = append(rows, [][]any{a, d, l}[t.pick])
			}
			if _, err := s.Pool().CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
		}
		settle(b, s)
	case *sqlite.Store:
		tx, err := s.DB().Begin()
		if err != nil {
			b.Fatal(err)
		}
		ins := func(table string, cols []string) string {
			return "INSERT INTO " + table + "(" + join(cols) + ") VALUES(?" + repeat(",?", len(cols)-1) + ")"
		}
		var stmts []*sql.Stmt
		for _, q := range []string{ins("accounts", acctCols), ins("devices", devCols), ins("logins", loginCols)} {
			st, err := tx.Prepare(q)
			if err != nil {
				b.Fatal(err)
			}
			stmts = append(stmts, st)
		}
		for i := range n {
			a, d, l := row(i)
			for k, args := range [][]any{a, d, l} {
				if _, err := stmts[k].Exec(args...); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		// No ANALYZE, as the service runs none: with the samples of
		// STAT4 (in modernc.org/sqlite's build) SQLite plans a statement
		// again each time a value bound to an indexed column changes,
		// about 130 µs more a response here (docs/DEPLOY.md).
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// storeSizes are the two sizes BenchmarkStoreSize compares:
// IBKEY_BENCH_ACCOUNTS (two, comma-separated) or 1,000 and 1,000,000.
func storeSizes() [2]int {
	sizes := [2]int{1000, 1000000}
	if v := os.Getenv("IBKEY_BENCH_ACCOUNTS"); v != "" {
		f := bytes.Split([]byte(v), []byte(","))
		for i := range min(len(f), 2) {
			if n, err := strconv.Atoi(string(f[i])); err == nil {
				sizes[i] = n
			}
		}
	}
	return sizes
}

// BenchmarkStoreSize: the cost of a response and of a login's start (the
// service's Argon2id aside: a cheap hash) through the API's handler, in
// process, in a store of 1,000 accounts and one of 1,000,000 (each with a
// device and a login), on each engine. The two stores take turns, 100
// operations at a time, so that the load of the machine weighs on both
// alike; each reports its ns/op and the ratio of the large to the small.
func BenchmarkStoreSize(b *testing.B) {
	sizes := storeSizes()
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(fmt.Sprintf("%s/accounts=%d-vs-%d", engine, sizes[0], sizes[1]), func(b *testing.B) {
			var hs [2]*harness
			var devs [2][]*device
			for i, n := range sizes {
				name := benchEngine(b, engine)
				seed(b, name, n)
				hs[i] = benchInstance(b, name, fastArgon, false)
				devs[i] = benchDevices(b, hs[i])
			}
			response := func(h *harness, jobs []job) func(i int) {
				handler := h.srv.Handler()
				return func(i int) {
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/logins/"+jobs[i].id+"/response", bytes.NewReader([]byte(jobs[i].body))))
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			}
			login := func(h *harness) func(int) {
				handler := h.srv.Handler()
				body := []byte(`{"username":"bench000","password":"password1"}`)
				return func(int) {
					h.clock.Add(2 * time.Second)
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/logins", bytes.NewReader(body)))
					if rec.Code != 201 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			}
			b.Run("response", func(b *testing.B) {
				var ops [2]func(int)
				for i := range hs {
					ops[i] = response(hs[i], benchJobs(b, hs[i], devs[i], b.N))
				}
				alternate(b, ops)
			})
			b.Run("login", func(b *testing.B) {
				alternate(b, [2]func(int){login(hs[0]), login(hs[1])})
			})
		})
	}
}

// alternate runs b.N operations of each of ops, 100 at a time in turn,
// and reports the time of each and their ratio.
func alternate(b *testing.B, ops [2]func(int)) {
	var spent [2]time.Duration
	b.ResetTimer()
	for start := 0; start < b.N; start += 100 {
		for k, op := range ops {
			t0 := time.Now()
			for i := start; i < min(start+100, b.N); i++ {
				op(i)
			}
			spent[k] += time.Since(t0)
		}
	}
	b.StopTimer()
	small, large := float64(spent[0])/float64(b.N), float64(spent[1])/float64(b.N)
	b.ReportMetric(small, "small-ns/op")
	b.ReportMetric(large, "large-ns/op")
	b.ReportMetric(large/small, "large/small")
}
