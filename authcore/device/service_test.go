package device

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/authcore/verifier"
)

// fakeService is the service side of docs/PROTOCOL.md for one enrollment
// and its device, made of the verifier's and the protocol's functions, with
// knobs for the answers that the device's flows must handle.
type fakeService struct {
	t   *testing.T
	key ed25519.PrivateKey

	mu         sync.Mutex
	calls      []string
	secret     []byte // of the activated device
	suite      string
	pinHash    []byte
	tokenHash  [32]byte
	delivery   []byte // the device's delivery public key
	confirmed  bool
	events     []protocol.SignedEvent
	pending    []string // nil: the service does not say
	number     int      // the browser's number of the login requests
	approved   []protocol.ApprovalRequest
	deliveries []protocol.Delivery

	// Knobs.
	confirmFails  int    // answer this many confirmations with 503 first
	confirmRefuse bool   // refuse confirmations (403 invalid_response)
	wrongSuite    string // activate with this suite instead
	noServiceKey  bool   // activate without the identity key
	eventsStatus  int    // answer events with this error status
	eventsCode    string
	longPoll      bool // hold an events request without news until woken
	wake          chan struct{}
}

// newer reports whether an event after seq is queued.
func (f *fakeService) newer(seq int64) bool {
	for _, se := range f.events {
		if se.Seq > seq {
			return true
		}
	}
	return false
}

func (f *fakeService) wakeCh() chan struct{} {
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	return f.wake
}

// news wakes the long-polls waiting.
func (f *fakeService) news() {
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
}

const (
	fakeCode    = "12345678"
	fakeSession = "K7QF2MZPXW3D9HJT"
	fakeConfirm = "123456"
	fakeDevice  = "dev-1"
	fakeEnroll  = "enr-1"
)

func newFakeService(t *testing.T) (*fakeService, *httptest.Server) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	f := &fakeService{t: t, key: key, number: 57}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	return f, ts
}

func (f *fakeService) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeService) fail(w http.ResponseWriter, status int, code string) {
	f.answer(w, status, protocol.ErrorBody{Error: code, Message: code})
}

func (f *fakeService) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	p := r.URL.Path
	if dev, ok := strings.CutPrefix(p, "/api/v1/devices/"+fakeDevice+"/"); ok {
		tok, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(r.Header.Get("Authorization"), "Device "))
		if err != nil || sha256.Sum256(tok) != f.tokenHash || f.secret == nil {
			f.fail(w, 401, protocol.CodeUnauthorized)
			return
		}
		f.device(w, r, dev)
		return
	}
	switch p {
	case "/api/v1/enrollments":
		var req protocol.EnrollRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Password != "password1" {
			f.fail(w, 401, protocol.CodeBadCredentials)
			return
		}
		f.answer(w, 201, protocol.Enrollment{ID: fakeEnroll, Channel: "sms", To: "+*******1234"})
	case "/api/v1/enrollments/session":
		var req protocol.SessionRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Session != fakeSession {
			f.fail(w, 403, protocol.CodeInvalidCode)
			return
		}
		f.answer(w, 200, protocol.Enrollment{ID: fakeEnroll, Channel: "link", Username: "alice", Session: fakeSession})
	case "/api/v1/enrollments/" + fakeEnroll + "/resend":
		f.answer(w, 200, protocol.Enrollment{ID: fakeEnroll, Channel: "voice"})
	case "/api/v1/enrollments/" + fakeEnroll + "/activate":
		var req protocol.ActivateRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Code != fakeCode && req.Session != fakeSession {
			left := 9
			f.answer(w, 403, protocol.ErrorBody{Error: protocol.CodeInvalidCode, AttemptsLeft: &left})
			return
		}
		suite := protocol.SuiteIBKey
		if req.Card {
			suite = protocol.SuiteDSC
		}
		if f.wrongSuite != "" {
			suite = f.wrongSuite
		}
		sp, secret, err := verifier.Activate(rand.Reader, req.PublicKey, fakeEnroll, suite, fakeDevice)
		if err != nil {
			f.fail(w, 400, protocol.CodeBadRequest)
			return
		}
		f.secret, f.suite, f.pinHash, f.delivery = secret, suite, req.PINHash, req.DeliveryKey
		f.tokenHash = sha256.Sum256(req.ChannelToken)
		a := protocol.Activation{
			DeviceID: fakeDevice, Username: "alice", Account: "U1234567", Suite: suite,
			ApproveSuite: protocol.SuiteApprove, ServerKey: sp, ConfirmChallenge: fakeConfirm,
			ServiceKey: f.key.Public().(ed25519.PublicKey),
		}
		if f.noServiceKey {
			a.ServiceKey = nil
		}
		f.answer(w, 200, a)
	default:
		f.fail(w, 404, protocol.CodeNotFound)
	}
}

// check verifies a response of the device's secret to challenge.
func (f *fakeService) check(challenge, response string) bool {
	s := ocra.MustParseSuite(f.suite)
	return verifier.VerifyResponse(s, f.secret, f.pinHash, challenge, response) == nil
}

func (f *fakeService) device(w http.ResponseWriter, r *http.Request, p string) {
	switch p {
	case "confirm":
		if f.confirmFails > 0 {
			f.confirmFails--
			f.fail(w, 503, "unavailable")
			return
		}
		var req protocol.ConfirmRequest
		json.NewDecoder(r.Body).Decode(&req)
		if f.confirmRefuse || !f.check(fakeConfirm, req.Response) {
			f.fail(w, 403, protocol.CodeInvalidResponse)
			return
		}
		f.confirmed = true
		f.answer(w, 200, protocol.Status{Status: "active"})
	case "events":
		if f.eventsStatus != 0 {
			f.fail(w, f.eventsStatus, f.eventsCode)
			return
		}
		after := r.URL.Query().Get("after")
		// A long-poll: wait for an event after after, a change of the
		// pending list, or the wait asked for.
		if f.longPoll && !f.newer(atoi(after)) && r.URL.Query().Get("pending") == protocol.PendingDigest(f.pending) {
			wake := f.wakeCh()
			f.mu.Unlock()
			select {
			case <-wake:
			case <-time.After(time.Duration(atoi(r.URL.Query().Get("wait"))) * time.Millisecond):
			case <-r.Context().Done():
			}
			f.mu.Lock()
			if f.eventsStatus != 0 {
				f.fail(w, f.eventsStatus, f.eventsCode)
				return
			}
		}
		var out protocol.Events
		out.Pending = f.pending
		for _, se := range f.events {
			if after == "" || se.Seq > atoi(after) {
				out.Events = append(out.Events, se)
			}
			out.Next = max(out.Next, se.Seq)
		}
		f.answer(w, 200, out)
	case "approvals":
		var req protocol.ApprovalRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.approved = append(f.approved, req)
		if req.Deny != "" {
			f.answer(w, 200, protocol.Status{Status: "denied"})
			return
		}
		for _, se := range f.events {
			var ev protocol.Event
			json.Unmarshal(se.Payload, &ev)
			if ev.ID != req.RequestID {
				continue
			}
			switch err := verifier.VerifyApproval(f.secret, se.Payload, ev.Challenge, f.number, req.Number, req.Response); {
			case errors.Is(err, verifier.ErrWrongNumber):
				f.fail(w, 403, protocol.CodeWrongNumber)
			case err != nil:
				f.fail(w, 403, protocol.CodeInvalidResponse)
			default:
				f.answer(w, 200, protocol.Status{Status: "approved"})
			}
			return
		}
		f.fail(w, 410, protocol.CodeGone)
	case "inbox/challenge", "pin-challenge":
		f.answer(w, 201, protocol.ProofChallenge{ID: "c-" + p, Challenge: "314159"})
	case "inbox", "pin-proof":
		var req protocol.ProofResponse
		json.NewDecoder(r.Body).Decode(&req)
		if req.ChallengeID != "c-"+p+"/challenge" && req.ChallengeID != "c-pin-challenge" || !f.check("314159", req.Response) {
			left := 4
			f.answer(w, 403, protocol.ErrorBody{Error: protocol.CodeInvalidResponse, AttemptsLeft: &left})
			return
		}
		if p == "pin-proof" {
			f.answer(w, 200, protocol.Status{Status: "proved"})
			return
		}
		f.answer(w, 200, protocol.Inbox{Deliveries: f.deliveries})
		f.deliveries = nil
	default:
		f.fail(w, 404, protocol.CodeNotFound)
	}
}

func atoi(s string) int64 {
	var n int64
	neg := strings.HasPrefix(s, "-")
	for _, c := range strings.TrimPrefix(s, "-") {
		n = 10*n + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

// login queues a signed login request for the device, valid until
// expires, and returns it.
func (f *fakeService) login(id string, numbers []int, expires time.Time) protocol.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev := protocol.Event{
		Type: protocol.EventLogin, ID: id, DeviceID: fakeDevice, Username: "alice",
		Challenge: strings.Repeat("ab", 20), Numbers: numbers,
		Context:  protocol.LoginContext{App: "Client Portal", IP: "192.0.2.1", Browser: "Firefox", Time: expires.Add(-2 * time.Minute)},
		IssuedAt: expires.Add(-2 * time.Minute), ExpiresAt: expires,
	}
	se, err := protocol.SignEvent(f.key, int64(len(f.events)+1), ev)
	if err != nil {
		f.t.Fatal(err)
	}
	f.events = append(f.events, se)
	f.news()
	return ev
}

// raw queues an event as given.
func (f *fakeService) raw(se protocol.SignedEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	se.Seq = int64(len(f.events) + 1)
	f.events = append(f.events, se)
}

// deliver seals text to the device for its inbox, under label (the right
// one when "").
func (f *fakeService) deliver(id, text, label string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	right := verifier.DeliveryLabel(verifier.TempPasswordKind, id, fakeDevice)
	sealed, err := protocol.Seal(rand.Reader, f.delivery, right, []byte(text))
	if err != nil {
		f.t.Fatal(err)
	}
	if label == "" {
		label = right
	}
	f.deliveries = append(f.deliveries, protocol.Delivery{ID: id, Kind: verifier.TempPasswordKind, Label: label, Sealed: sealed})
}

func (f *fakeService) set(fn func(f *fakeService)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
	f.news()
}

// testDevice is a Device over a new vault whose clock is *now, talking to
// ts.
func testDevice(t *testing.T, ts *httptest.Server, now *time.Time) *Device {
	t.Helper()
	v, err := vault.Open(t.TempDir(), &memSecrets{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Device{Vault: v, Now: func() time.Time { return *now }, Client: func(base string) *protocol.Client {
		return &protocol.Client{BaseURL: base, HTTP: ts.Client()}
	}}
}

// enrollAlice runs an enrollment of alice with PIN 2468.
func enrollAlice(t *testing.T) (*fakeService, *httptest.Server, *Device, *time.Time) {
	t.Helper()
	f, ts := newFakeService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := testDevice(t, ts, &now)
	ctx := context.Background()
	enr, err := d.Enroll(ctx, ts.URL, "alice", "password1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Activate(ctx, ts.URL, enr.ID, "1234 5678", "alice", Protection{PIN: "2468"}); err != nil {
		t.Fatal(err)
	}
	return f, ts, d, &now
}
