package portal

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/internal/pgtest"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/postgres"
	"ibkey/portal/store/sqlite"
)

// fastArgon keeps password hashing cheap in tests.
var fastArgon = core.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// pg is the PostgreSQL server of the tests that run on it.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	pgBench.Stop()
	os.Exit(code)
}

// onPostgres says that the service's tests run on PostgreSQL rather than
// SQLite files (IBKEY_TEST_STORE=postgres): the whole suite of the API and
// the pages on the other engine. The tests that are about the SQLite file
// itself run on SQLite either way.
var onPostgres = os.Getenv("IBKEY_TEST_STORE") == "postgres"

// openStore opens a new store of the engine the tests run on.
func openStore(t testing.TB) store.Store {
	t.Helper()
	if onPostgres {
		st, err := postgres.Open(context.Background(), pg.Database(t), testKey(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	return openFile(t, filepath.Join(t.TempDir(), "ibkey.db"))
}

// openFile opens the SQLite database at path, with its key file beside it.
func openFile(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, _, err := sqlite.OpenKeyFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testKey(t testing.TB) *store.MasterKey {
	t.Helper()
	k, err := store.NewMasterKey(bytes.Repeat([]byte{7}, store.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type memGateway struct {
	mu   sync.Mutex
	msgs []core.Message
}

func (g *memGateway) Send(_ context.Context, m core.Message) error {
	g.mu.Lock()
	g.msgs = append(g.msgs, m)
	g.mu.Unlock()
	return nil
}

func (g *memGateway) last(t testing.TB) core.Message {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.msgs) == 0 {
		t.Fatal("no message sent")
	}
	return g.msgs[len(g.msgs)-1]
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t      testing.TB
	svc    *core.Service
	srv    *Server
	ts     *httptest.Server
	store  store.Store
	clock  *clock
	gw     *memGateway
	log    *syncBuffer
	client *protocol.Client
}

type option func(*core.Config)

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	return newHarnessStore(t, openStore(t), opts...)
}

func newHarnessStore(t testing.TB, st store.Store, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, store: st, clock: &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}, gw: &memGateway{}, log: &syncBuffer{}}
	cfg := core.Config{
		Store: st, Now: h.clock.Now, Gateway: h.gw, Argon2: fastArgon,
		Log:  slog.New(slog.NewTextHandler(h.log, nil)),
		Rate: core.RateLimit{Disabled: true}, CrossProcessPoll: 50 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	h.srv = New(svc, Options{})
	h.ts = httptest.NewServer(h.srv.Handler())
	h.client = &protocol.Client{BaseURL: h.ts.URL, HTTP: h.ts.Client()}
	t.Cleanup(func() {
		h.ts.Close()
		svc.Close()
		st.Close()
	})
	return h
}

func (h *harness) addUser(username, password string) store.Account {
	h.t.Helper()
	a, err := core.CreateAccount(context.Background(), h.store, rand.Reader, h.clock.Now(), username, "+15550001234", password, fastArgon)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// device is a simulated device: what the vault would hold.
type device struct {
	id         string
	token      []byte
	secret     []byte
	suite      ocra.Suite
	pin        string // a card's PIN
	delivery   *ecdh.PrivateKey
	serviceKey []byte
}

func (d *device) respond(t testing.TB, challenge string) string {
	t.Helper()
	in := ocra.Input{Challenge: challenge, PIN: d.pin}
	r, err := ocra.Generate(d.suite, d.secret, in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// enroll runs the whole enrollment of a device for username.
func (h *harness) enroll(username, password string) *device {
	h.t.Helper()
	d, err := h.tryEnroll(username, password, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) tryEnroll(username, password, cardPIN string) (*device, error) {
	ctx := context.Background()
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: username, Password: password})
	if err != nil {
		return nil, err
	}
	code := h.gw.last(h.t).Code
	act, _ := protocol.NewActivationKey(rand.Reader)
	del, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	req := protocol.ActivateRequest{Code: code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: del.PublicKey().Bytes(), ChannelToken: token}
	if cardPIN != "" {
		req.Card = true
		req.PINHash = sha1Sum(cardPIN)
	}
	a, err := h.client.Activate(ctx, enr.ID, req)
	if err != nil {
		return nil, err
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		return nil, err
	}
	d := &device{id: a.DeviceID, token: token, secret: secret, suite: ocra.MustParseSuite(a.Suite), pin: cardPIN, delivery: del, serviceKey: a.ServiceKey}
	if err := h.client.Confirm(ctx, d.id, token, d.respond(h.t, a.ConfirmChallenge)); err != nil {
		return nil, err
	}
	return d, nil
}

// do sends a JSON request and decodes the JSON answer into out (if not nil).
func (h *harness) do(method, path string, in any, out any) (int, protocol.ErrorBody) {
	h.t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, h.ts.URL+path, &body)
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb protocol.ErrorBody
	dec := json.NewDecoder(resp.Body)
	if resp.StatusCode/100 == 2 {
		if out != nil {
			if err := dec.Decode(out); err != nil {
				h.t.Fatalf("%s %s: decode: %v", method, path, err)
			}
		}
	} else if err := dec.Decode(&eb); err != nil || eb.Error == "" {
		h.t.Fatalf("%s %s: %d with an error body that is not {error, message}: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, eb
}

func (h *harness) login(username, password string) protocol.Login {
	h.t.Helper()
	var l protocol.Login
	if code, eb := h.do("POST", "/api/v1/logins", protocol.LoginRequest{Username: username, Password: password}, &l); code != 201 {
		h.t.Fatalf("login: %d %+v", code, eb)
	}
	return l
}

func (h *harness) answer(id, response string) (int, protocol.ErrorBody) {
	h.t.Helper()
	return h.do("POST", "/api/v1/logins/"+id+"/response", protocol.LoginAnswer{Response: response}, nil)
}

func (h *harness) status(id string) string {
	h.t.Helper()
	var s protocol.LoginStatus
	if code, eb := h.do("GET", "/api/v1/logins/"+id, nil, &s); code != 200 {
		h.t.Fatalf("status: %d %+v", code, eb)
	}
	return s.Status
}

func apiCode(err error) string {
	var e *protocol.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func wrong(r string) string {
	b := []byte(r)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

var _ = verifier.HardLockout

func sha1Sum(s string) []byte {
	h := ocra.SHA1.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rawDump prints every row of the query q on the database of st, read
// outside the store: what a copy of the database holds.
func rawDump(t testing.TB, st store.Store, q string) []byte {
	t.Helper()
	var out bytes.Buffer
	switch s := st.(type) {
	case *sqlite.Store:
		rows, err := s.DB().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintln(&out, vals...)
		}
	case *postgres.Store:
		rows, err := s.Pool().Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&out, vals...)
		}
	default:
		t.Fatalf("no raw access to %T", st)
	}
	return out.Bytes()
}

// rawExec runs a statement (with ? placeholders) on the database of st,
// outside the store.
func rawExec(t testing.TB, st store.Store, q string, args ...any) {
	t.Helper()
	var err error
	switch s := st.(type) {
	case *sqlite.Store:
		_, err = s.DB().Exec(q, args...)
	case *postgres.Store:
		n := 0
		q = regexp.MustCompile(`\?`).ReplaceAllStringFunc(q, func(string) string { n++; return "$" + strconv.Itoa(n) })
		_, err = s.Pool().Exec(context.Background(), q, args...)
	default:
		t.Fatalf("no raw access to %T", st)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// rawBytes reads one value (with ? placeholders) of the database of st.
func rawBytes(t testing.TB, st store.Store, q string, args ...any) []byte {
	t.Helper()
	var b []byte
	var err error
	switch s := st.(type) {
	case *sqlite.Store:
		err = s.DB().QueryRow(q, args...).Scan(&b)
	case *postgres.Store:
		n := 0
		q = regexp.MustCompile(`\?`).ReplaceAllStringFunc(q, func(string) string { n++; return "$" + strconv.Itoa(n) })
		err = s.Pool().QueryRow(context.Background(), q, args...).Scan(&b)
	default:
		t.Fatalf("no raw access to %T", st)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}
