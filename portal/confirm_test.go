package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dev "ibkey/authcore/device"
	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// activateOnly runs an enrollment up to the activation: the device that
// would confirm next, and its confirmation response.
func (h *harness) activateOnly(username, password string) (*device, string) {
	h.t.Helper()
	ctx := context.Background()
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: username, Password: password})
	if err != nil {
		h.t.Fatal(err)
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	del, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	req := protocol.ActivateRequest{Code: h.gw.last(h.t).Code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: del.PublicKey().Bytes(), ChannelToken: token}
	a, err := h.client.Activate(ctx, enr.ID, req)
	if err != nil {
		h.t.Fatal(err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		h.t.Fatal(err)
	}
	d := &device{id: a.DeviceID, token: token, secret: secret, suite: ocra.MustParseSuite(a.Suite), delivery: del, serviceKey: a.ServiceKey}
	return d, d.respond(h.t, a.ConfirmChallenge)
}

// A confirmation whose answer was lost is sent again: the service answers
// it as it did the first time, as long as that device is the active one,
// and changes nothing.
func TestConfirmIsIdempotent(t *testing.T) {
	h := newHarness(t)
	h.addUser("dan", "password1")
	ctx := context.Background()
	old := h.enroll("dan", "password1")
	d, confirm := h.activateOnly("dan", "password1")
	for i := range 3 {
		if err := h.client.Confirm(ctx, d.id, d.token, confirm); err != nil {
			t.Fatalf("confirm %d: %v", i+1, err)
		}
	}
	ds, _ := core.ListDevices(ctx, h.store, "dan")
	if len(ds) != 2 || ds[0].ID != old.id || ds[0].State != store.DeviceRetired || ds[1].State != store.DeviceActive {
		t.Fatalf("devices %+v", ds)
	}
	activated := ds[1].Activated
	// Even after the pending window: the device is active.
	h.clock.Add(h.svc.Limits().CodeTTL * 2)
	if err := h.client.Confirm(ctx, d.id, d.token, confirm); err != nil {
		t.Fatalf("confirm after the window: %v", err)
	}
	// A wrong response to a repeated confirm is refused and changes nothing.
	if err := h.client.Confirm(ctx, d.id, d.token, wrong(confirm)); apiCode(err) != protocol.CodeInvalidResponse {
		t.Fatalf("wrong repeated confirm: %v", err)
	}
	ds, _ = core.ListDevices(ctx, h.store, "dan")
	if ds[1].State != store.DeviceActive || !ds[1].Activated.Equal(activated) {
		t.Fatalf("a repeated confirm changed the device: %+v", ds[1])
	}
	l := h.login("dan", "password1")
	if code, eb := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("the confirmed device: %d %+v", code, eb)
	}
	// Once another device is active, the old one's confirm is refused.
	h.enroll("dan", "password1")
	if err := h.client.Confirm(ctx, d.id, d.token, confirm); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("confirm of a replaced device: %v", err)
	}
	// The old device never comes back by a confirm.
	if err := h.client.Confirm(ctx, old.id, old.token, confirm); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("confirm of the first device: %v", err)
	}
}

// memSecrets is an in-memory vault.SecretStore.
type memSecrets struct{ m sync.Map }

func (s *memSecrets) Get(name string) ([]byte, error) {
	if b, ok := s.m.Load(name); ok {
		return bytes.Clone(b.([]byte)), nil
	}
	return nil, fs.ErrNotExist
}

func (s *memSecrets) Set(name string, b []byte) error { s.m.Store(name, bytes.Clone(b)); return nil }
func (s *memSecrets) Delete(name string) error        { s.m.Delete(name); return nil }

// lossyTransport passes requests to the service, and for the confirm
// calls it is told to, drops the service's answer (after the service has
// answered) or drops the request before it leaves.
type lossyTransport struct {
	next          http.RoundTripper
	mu            sync.Mutex
	dropAnswers   int // confirm answers to drop after the service answered
	dropRequests  int // confirm requests to drop before they leave
	confirmsSeen  int // confirm requests the service received
	confirmsTried int
}

var errNetDown = errors.New("connection reset by peer")

func (l *lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/confirm") {
		return l.next.RoundTrip(r)
	}
	l.mu.Lock()
	l.confirmsTried++
	if l.dropRequests > 0 {
		l.dropRequests--
		l.mu.Unlock()
		return nil, errNetDown
	}
	l.confirmsSeen++
	drop := l.dropAnswers > 0
	if drop {
		l.dropAnswers--
	}
	l.mu.Unlock()
	resp, err := l.next.RoundTrip(r)
	if err != nil || !drop {
		return resp, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errNetDown
}

func (l *lossyTransport) counts() (tried, seen int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.confirmsTried, l.confirmsSeen
}

// newDevice is authcore/device over a fresh vault, talking to the service
// through tr.
func (h *harness) newDevice(tr http.RoundTripper) (*dev.Device, *vault.Vault) {
	h.t.Helper()
	v, err := vault.Open(h.t.TempDir(), &memSecrets{}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	d := dev.New(v)
	d.Client = func(base string) *protocol.Client {
		return &protocol.Client{BaseURL: base, HTTP: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	}
	return d, v
}

// activateWith enrolls username on d with the code the service sent.
func (h *harness) activateWith(ctx context.Context, d *dev.Device, username, password string) (vault.User, error) {
	h.t.Helper()
	enr, err := d.Enroll(context.Background(), h.ts.URL, username, password, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return d.Activate(ctx, h.ts.URL, enr.ID, h.gw.last(h.t).Code, username, dev.Protection{PIN: "2468"})
}

// works logs username in through the service and answers the challenge
// with d's user.
func (h *harness) works(d *dev.Device, username, password string) bool {
	h.t.Helper()
	l := h.login(username, password)
	r, err := d.Respond(username, l.Challenge, vault.Unlock{PIN: "2468"})
	if err != nil {
		h.t.Fatal(err)
	}
	code, _ := h.answer(l.ID, r)
	return code == http.StatusOK
}

// The network drops the service's answer to the confirmation after the
// service committed: the device asks again, gets the same answer, and the
// user works.
func TestConfirmAnswerLost(t *testing.T) {
	h := newHarness(t)
	h.addUser("dan", "password1")
	old := h.enroll("dan", "password1")
	tr := &lossyTransport{next: h.ts.Client().Transport, dropAnswers: 2}
	d, v := h.newDevice(tr)
	u, err := h.activateWith(context.Background(), d, "dan", "password1")
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	if tried, seen := tr.counts(); tried != 3 || seen != 3 {
		t.Fatalf("confirm tried %d times, %d reached the service; want 3 and 3", tried, seen)
	}
	if _, err := v.User("dan"); err != nil || u.DeviceID == "" {
		t.Fatalf("the user left the vault: %v", err)
	}
	if !h.works(d, "dan", "password1") {
		t.Fatal("the confirmed user does not log in")
	}
	if _, err := h.client.Events(context.Background(), old.id, old.token, 0, 0); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("the old device: %v", err)
	}
}

// When no answer comes at all (the retries run out), the user stays in the
// vault: if the service committed, it is the user's one device.
func TestConfirmNeverAnswered(t *testing.T) {
	h := newHarness(t)
	h.addUser("dan", "password1")
	tr := &lossyTransport{next: h.ts.Client().Transport, dropAnswers: 1000}
	d, v := h.newDevice(tr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := h.activateWith(ctx, d, "dan", "password1")
	var ce *dev.ConfirmError
	if !errors.As(err, &ce) || !ce.Unanswered || ce.Kept != nil {
		t.Fatalf("activate: %v, want an unanswered ConfirmError", err)
	}
	if tried, _ := tr.counts(); tried < 2 {
		t.Fatalf("confirm tried %d times", tried)
	}
	if _, err := v.User("dan"); err != nil {
		t.Fatalf("the user left the vault: %v", err)
	}
	if !h.works(d, "dan", "password1") {
		t.Fatal("the user the service activated does not log in")
	}
}

// An explicit refusal removes the user from the vault; transport failures
// before it do not.
func TestConfirmRefused(t *testing.T) {
	h := newHarness(t)
	h.addUser("dan", "password1")
	old := h.enroll("dan", "password1")
	// The requests never reach the service until the activation's window is
	// over: then the service refuses (410), and the user goes.
	tr := &lossyTransport{next: h.ts.Client().Transport, dropRequests: 1}
	d, v := h.newDevice(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Path, "/confirm") {
			h.clock.Add(time.Hour)
		}
		return tr.RoundTrip(r)
	}))
	_, err := h.activateWith(context.Background(), d, "dan", "password1")
	var ce *dev.ConfirmError
	if !errors.As(err, &ce) || ce.Unanswered || ce.Kept != nil || !errors.Is(err, protocol.ErrGone) {
		t.Fatalf("activate: %v, want a refused ConfirmError", err)
	}
	if tried, seen := tr.counts(); tried != 2 || seen != 1 {
		t.Fatalf("confirm tried %d times, %d reached the service; want 2 and 1", tried, seen)
	}
	if _, err := v.User("dan"); !errors.Is(err, vault.ErrNoUser) {
		t.Fatalf("the refused user stays in the vault: %v", err)
	}
	l := h.login("dan", "password1")
	if code, _ := h.answer(l.ID, old.respond(t, l.Challenge)); code != http.StatusOK {
		t.Fatalf("the old device: %d", code)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
