package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

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

// pinService is a fake service that answers PIN challenges for one device
// with secret, and records every path it is asked.
type pinService struct {
	secret []byte
	suite  ocra.Suite
	mu     sync.Mutex
	paths  []string
}

func (p *pinService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") == "" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(protocol.ErrorBody{Error: protocol.CodeUnauthorized})
		return
	}
	switch r.URL.Path {
	case "/api/v1/devices/dev1/pin-challenge":
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(protocol.ProofChallenge{ID: "c1", Challenge: "314159", ExpiresAt: time.Now().Add(time.Minute)})
	case "/api/v1/devices/dev1/pin-proof":
		var req protocol.ProofResponse
		json.NewDecoder(r.Body).Decode(&req)
		want, _ := ocra.Generate(p.suite, p.secret, ocra.Input{Challenge: "314159"})
		if req.ChallengeID != "c1" || req.Response != want {
			left := 4
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(protocol.ErrorBody{Error: protocol.CodeInvalidResponse, AttemptsLeft: &left})
			return
		}
		json.NewEncoder(w).Encode(protocol.Status{Status: "proved"})
	default:
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(protocol.ErrorBody{Error: protocol.CodeNotFound})
	}
}

func (p *pinService) took() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.paths
	p.paths = nil
	return out
}

// TestChangePIN: the old PIN is proved with a PIN challenge (never the
// inbox); a refusal changes nothing; offline, RefuseOffline changes nothing
// and ChangeOffline changes it unconfirmed; an imported user has no service
// to prove it to.
func TestChangePIN(t *testing.T) {
	suite := ocra.MustParseSuite(protocol.SuiteIBKey)
	secret := bytes.Repeat([]byte{7}, 32)
	svc := &pinService{secret: secret, suite: suite}
	ts := httptest.NewServer(svc)
	defer ts.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // a service that cannot be reached

	v, err := vault.Open(t.TempDir(), &memSecrets{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	add := func(name, service string) {
		t.Helper()
		nu := vault.NewUser{Name: name, Suite: suite, Secret: secret, PIN: "2468"}
		if service != "" {
			nu.Account, nu.Service, nu.DeviceID = "U1", service, "dev1"
			nu.ServiceKey = bytes.Repeat([]byte{1}, 32)
			nu.ChannelKey, nu.DeliveryKey = bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
		}
		if err := v.Add(nu, rand.Reader, now); err != nil {
			t.Fatal(err)
		}
	}
	add("alice", ts.URL)
	add("bob", gone.URL)
	add("carol", "")
	d := &Device{Vault: v, Now: func() time.Time { return now }, Client: func(base string) *protocol.Client {
		return &protocol.Client{BaseURL: base, HTTP: ts.Client()}
	}}
	right, _ := ocra.Generate(suite, secret, ocra.Input{Challenge: "271828"})
	// opens reports whether pin opens name's secret (a wrong PIN gives a
	// wrong response, not an error).
	opens := func(name, pin string) bool {
		t.Helper()
		r, err := d.Respond(name, "271828", vault.Unlock{PIN: pin})
		if err != nil {
			t.Fatal(err)
		}
		return r == right
	}
	ctx := context.Background()

	// A wrong old PIN: refused by the service, nothing changed.
	confirmed, err := d.ChangePIN(ctx, "alice", "1357", "9173", ChangeOffline)
	var pe *protocol.Error
	if !errors.Is(err, ErrWrongPIN) || !errors.As(err, &pe) || pe.AttemptsLeft != 4 || confirmed {
		t.Fatalf("wrong old PIN: %v %v, want ErrWrongPIN with attempts left", confirmed, err)
	}
	if !opens("alice", "2468") {
		t.Fatal("a refused change changed the PIN")
	}
	want := []string{"/api/v1/devices/dev1/pin-challenge", "/api/v1/devices/dev1/pin-proof"}
	if got := svc.took(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("calls %q, want %q", got, want)
	}
	// An easy new PIN: refused before the service is asked.
	if _, err := d.ChangePIN(ctx, "alice", "2468", "1111", RefuseOffline); !errors.Is(err, vault.ErrBadPIN) {
		t.Fatalf("easy new PIN: %v, want ErrBadPIN", err)
	}
	// The right old PIN: proved, changed; the inbox is not touched.
	if confirmed, err := d.ChangePIN(ctx, "alice", "2468", "9173", RefuseOffline); err != nil || !confirmed {
		t.Fatalf("right old PIN: %v %v", confirmed, err)
	}
	if got := svc.took(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if !opens("alice", "9173") {
		t.Fatal("the new PIN does not open the secret")
	}

	// Offline: refused, or changed unconfirmed.
	if _, err := d.ChangePIN(ctx, "bob", "2468", "9173", RefuseOffline); !Offline(err) {
		t.Fatalf("offline, refused: %v, want an Offline error", err)
	}
	if !opens("bob", "2468") {
		t.Fatal("RefuseOffline changed the PIN")
	}
	if confirmed, err := d.ChangePIN(ctx, "bob", "2468", "9173", ChangeOffline); err != nil || confirmed {
		t.Fatalf("offline, allowed: %v %v, want changed unconfirmed", confirmed, err)
	}
	if !opens("bob", "9173") {
		t.Fatal("ChangeOffline did not change the PIN")
	}

	// Imported: nothing to prove it to.
	if confirmed, err := d.ChangePIN(ctx, "carol", "2468", "9173", RefuseOffline); err != nil || confirmed {
		t.Fatalf("imported: %v %v, want changed unconfirmed", confirmed, err)
	}
	if !opens("carol", "9173") {
		t.Fatal("the imported user's PIN did not change")
	}
	if got := svc.took(); len(got) != 0 {
		t.Fatalf("calls %q for users of other services", got)
	}
}
