package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

// deviceRoutes are the routes of the API with device auth, each with a
// request that the device's own token gets answered: which device's path
// it takes (the active one, or a pending one for the confirmation), its
// query and its body.
type deviceRoute struct {
	pending bool
	query   string
	body    func(f *authFixture) any
}

var deviceRoutes = map[string]deviceRoute{
	"POST /api/v1/devices/{id}/confirm": {pending: true, body: func(f *authFixture) any {
		return protocol.ConfirmRequest{Response: f.confirm}
	}},
	"GET /api/v1/devices/{id}/events": {query: "?after=0&wait=0"},
	"POST /api/v1/devices/{id}/approvals": {body: func(f *authFixture) any {
		return protocol.ApprovalRequest{RequestID: f.login.ID, Deny: protocol.DenyFraud}
	}},
	"POST /api/v1/devices/{id}/inbox/challenge": {body: func(*authFixture) any { return struct{}{} }},
	"POST /api/v1/devices/{id}/inbox": {body: func(f *authFixture) any {
		return protocol.ProofResponse{ChallengeID: f.inbox.ID, Response: f.vic.respond(f.h.t, f.inbox.Challenge)}
	}},
	"POST /api/v1/devices/{id}/pin-challenge": {body: func(*authFixture) any { return struct{}{} }},
	"POST /api/v1/devices/{id}/pin-proof": {body: func(f *authFixture) any {
		return protocol.ProofResponse{ChallengeID: f.pin.ID, Response: f.vic.respond(f.h.t, f.pin.Challenge)}
	}},
}

// otherRoutes are the routes without device auth.
var otherRoutes = []string{
	"POST /api/v1/enrollments", "POST /api/v1/enrollments/session", "POST /api/v1/enrollments/{id}/resend",
	"POST /api/v1/enrollments/{id}/activate", "POST /api/v1/logins", "POST /api/v1/logins/{id}/response",
	"GET /api/v1/logins/{id}", "POST /api/v1/logins/{id}/password", "GET /api/v1/service",
}

// TestDeviceRoutesListed: every route of the API (server.go) is in
// deviceRoutes or otherRoutes, and the device routes are those that
// docs/PROTOCOL.md marks "device auth": a new endpoint without a row in
// TestDeviceAuthRefused fails here.
func TestDeviceRoutesListed(t *testing.T) {
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, m := range regexp.MustCompile(`\bh\("([A-Z]+ /api/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		routes = append(routes, m[1])
	}
	if len(routes) != len(deviceRoutes)+len(otherRoutes) {
		t.Errorf("server.go has %d routes, the tables %d", len(routes), len(deviceRoutes)+len(otherRoutes))
	}
	for _, r := range routes {
		if _, ok := deviceRoutes[r]; !ok && !slices.Contains(otherRoutes, r) {
			t.Errorf("route %q has no row: add it to deviceRoutes (with a request) or otherRoutes", r)
		}
	}
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := 0
	for _, m := range regexp.MustCompile("(?m)^### `([A-Z]+ [^ `?]+)[^`]*` \\(device auth").FindAllStringSubmatch(string(doc), -1) {
		documented++
		if _, ok := deviceRoutes[m[1]]; !ok {
			t.Errorf("docs/PROTOCOL.md: %q has device auth and no row", m[1])
		}
	}
	if documented != len(deviceRoutes) {
		t.Errorf("docs/PROTOCOL.md has %d routes with device auth, the table %d", documented, len(deviceRoutes))
	}
}

// authFixture is a user vic with an active device, a device of vic's
// activated and not confirmed, a user oto with a device of his own, and
// something for every device route to act on: a login with a seamless
// request, a temporary password in the inbox, an inbox and a PIN
// challenge.
type authFixture struct {
	h       *harness
	vic     *device
	oto     *device
	pending *device
	confirm string
	login   protocol.Login
	inbox   protocol.InboxChallenge
	pin     protocol.ProofChallenge
}

func newAuthFixture(t *testing.T) *authFixture {
	h := newHarness(t)
	ctx := context.Background()
	f := &authFixture{h: h}
	h.addUser("vic", "password1")
	h.addUser("oto", "password1")
	f.vic = h.enroll("vic", "password1")
	f.oto = h.enroll("oto", "password1")
	// A second device of vic, activated and not confirmed.
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: "vic", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	a, err := h.client.Activate(ctx, enr.ID, protocol.ActivateRequest{Code: h.gw.last(t).Code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, act.PublicKey().Bytes(), a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	f.pending = &device{id: a.DeviceID, token: tok, secret: secret, suite: ocra.MustParseSuite(a.Suite)}
	f.confirm = f.pending.respond(t, a.ConfirmChallenge)
	f.login = h.login("vic", "password1")
	if !f.login.Push {
		t.Fatal("no seamless request")
	}
	if _, err := core.IssueTempPassword(ctx, h.store, rand.Reader, h.clock.Now(), "vic", fastArgon); err != nil {
		t.Fatal(err)
	}
	if f.inbox, err = h.client.InboxChallenge(ctx, f.vic.id, f.vic.token); err != nil {
		t.Fatal(err)
	}
	if f.pin, err = h.client.PINChallenge(ctx, f.vic.id, f.vic.token); err != nil {
		t.Fatal(err)
	}
	return f
}

// snapshot is what the store holds that a device route could change:
// devices, the users' accounts, logins and challenges, deliveries, events,
// fraud reports and the audit log.
func (f *authFixture) snapshot() string {
	f.h.t.Helper()
	var b strings.Builder
	err := f.h.store.View(context.Background(), func(tx store.Tx) error {
		ds, err := tx.Devices("")
		if err != nil {
			return err
		}
		for _, d := range ds {
			pd, err := tx.PendingDeliveries(d.ID)
			if err != nil {
				return err
			}
			evs, err := tx.Events(d.ID, 0, f.h.clock.Now(), 100)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "device %s %s %s %s: %d deliveries, %d events\n", d.ID, d.Username, d.State, d.Retired, len(pd), len(evs))
		}
		for _, u := range []string{"vic", "oto"} {
			a, err := tx.Account(u)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "account %s %+v %v\n", u, a.Lockout, a.MustChange)
		}
		for _, id := range []string{f.login.ID, f.inbox.ID, f.pin.ID} {
			l, err := tx.Login(id)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "login %s %s %s\n", id, l.Status, l.Reason)
		}
		ps, err := tx.PendingPushes("vic", f.h.clock.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%d pending pushes\n", len(ps))
		frs, err := tx.FraudReports()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%d fraud reports\n", len(frs))
		au, err := tx.Audit(store.AuditFilter{})
		for _, a := range au {
			fmt.Fprintf(&b, "audit %s %s %s\n", a.Event, a.Username, a.Outcome)
		}
		return err
	})
	if err != nil {
		f.h.t.Fatal(err)
	}
	return b.String()
}

// call sends a device route's request to the device id's path with the
// Authorization header auth ("" for none).
func (f *authFixture) call(route string, id, auth string) (int, protocol.ErrorBody) {
	f.h.t.Helper()
	method, path, _ := strings.Cut(route, " ")
	r := deviceRoutes[route]
	var body bytes.Buffer
	if r.body != nil {
		json.NewEncoder(&body).Encode(r.body(f))
	}
	req, _ := http.NewRequest(method, f.h.ts.URL+strings.Replace(path, "{id}", id, 1)+r.query, &body)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.h.ts.Client().Do(req)
	if err != nil {
		f.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb protocol.ErrorBody
	if resp.StatusCode/100 != 2 {
		json.NewDecoder(resp.Body).Decode(&eb)
	}
	return resp.StatusCode, eb
}

func deviceHeader(tok []byte) string {
	return protocol.AuthScheme + " " + base64.RawURLEncoding.EncodeToString(tok)
}

// TestDeviceAuthRefused: every route with device auth answers 401
// unauthorized (docs/PROTOCOL.md) and changes nothing when the request
// does not carry the device's own channel token: no token, a malformed
// header, another scheme, a wrong token, another device's token (of
// another user, or vic's pending device for the routes of an active
// device). Then the same requests with the device's own token are
// answered, so that the refusals were the token's doing.
func TestDeviceAuthRefused(t *testing.T) {
	f := newAuthFixture(t)
	wrong := make([]byte, 32)
	rand.Read(wrong)
	creds := []struct {
		name string
		auth func(own *device) string // "" is no header; own is the device of the path
	}{
		{"no token", func(*device) string { return "" }},
		{"an empty header", func(*device) string { return protocol.AuthScheme + " " }},
		{"a malformed token", func(own *device) string {
			return protocol.AuthScheme + " !" + deviceHeader(own.token)[len(protocol.AuthScheme)+2:]
		}},
		{"a short token", func(own *device) string { return deviceHeader(own.token[:31]) }},
		{"another scheme", func(own *device) string {
			return "Bearer " + base64.RawURLEncoding.EncodeToString(own.token)
		}},
		{"a wrong token", func(*device) string { return deviceHeader(wrong) }},
		{"another user's device's token", func(*device) string { return deviceHeader(f.oto.token) }},
		{"the user's other device's token", func(own *device) string {
			if own == f.vic {
				return deviceHeader(f.pending.token)
			}
			return deviceHeader(f.vic.token)
		}},
	}
	routes := slices.Sorted(func(yield func(string) bool) {
		for r := range deviceRoutes {
			if !yield(r) {
				return
			}
		}
	})
	before := f.snapshot()
	for _, route := range routes {
		own := f.vic
		if deviceRoutes[route].pending {
			own = f.pending
		}
		for _, c := range creds {
			t.Run(route+" with "+c.name, func(t *testing.T) {
				code, eb := f.call(route, own.id, c.auth(own))
				if code != http.StatusUnauthorized || eb.Error != protocol.CodeUnauthorized {
					t.Errorf("%d %+v, want 401 %s", code, eb, protocol.CodeUnauthorized)
				}
				if after := f.snapshot(); after != before {
					t.Errorf("the store changed:\n%s\nwas:\n%s", after, before)
				}
			})
		}
	}
	// The device's own token: answered. The confirmation goes last: it
	// retires vic's active device.
	slices.SortStableFunc(routes, func(a, b string) int {
		pa, pb := deviceRoutes[a].pending, deviceRoutes[b].pending
		switch {
		case pa == pb:
			return 0
		case pa:
			return 1
		}
		return -1
	})
	for _, route := range routes {
		own := f.vic
		if deviceRoutes[route].pending {
			own = f.pending
		}
		if code, eb := f.call(route, own.id, deviceHeader(own.token)); code/100 != 2 {
			t.Errorf("%s with the device's own token: %d %+v", route, code, eb)
		}
	}
}
