package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seen is one request as the service received it.
type seen struct {
	method, path, query, auth, ctype, body string
}

// fakeService records every request and answers status and answer.
func fakeService(t *testing.T, status int, answer string) (*Client, *[]seen) {
	t.Helper()
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return &Client{BaseURL: srv.URL + "/", HTTP: srv.Client()}, &got
}

// TestClientRequests: each call of the device's client is the request of
// docs/PROTOCOL.md: method, path, the Device authorization (base64url of
// the channel token without padding) on device calls only, and the body.
func TestClientRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok := []byte{0xfb, 0xff, 0x01} // base64url "-_8B", standard base64 "+/8B"
	const auth = "Device -_8B"
	c, got := fakeService(t, 200, `{"id":"e1","status":"active","device_id":"d9","next":5,"challenge":"123456","deliveries":[{"id":"x"}]}`)
	for _, call := range []struct {
		do                       func() (any, error)
		method, path, auth, body string
		query                    string
	}{
		{func() (any, error) {
			return c.Enroll(ctx, EnrollRequest{Username: "alice", Password: "pw", Channel: "voice"})
		}, "POST", "/api/v1/enrollments", "", `{"username":"alice","password":"pw","channel":"voice"}`, ""},
		{func() (any, error) { return c.EnrollSession(ctx, "K7QF2MZPXW3D9HJT") },
			"POST", "/api/v1/enrollments/session", "", `{"session":"K7QF2MZPXW3D9HJT"}`, ""},
		{func() (any, error) { return c.Resend(ctx, "e/1", "") },
			"POST", "/api/v1/enrollments/e%2F1/resend", "", `{}`, ""},
		{func() (any, error) {
			return c.Activate(ctx, "e1", ActivateRequest{Code: "12345678", PublicKey: []byte{1}, DeliveryKey: []byte{2}, ChannelToken: []byte{3}})
		}, "POST", "/api/v1/enrollments/e1/activate", "", `{"code":"12345678","public_key":"AQ==","delivery_key":"Ag==","channel_token":"Aw=="}`, ""},
		{func() (any, error) { return nil, c.Confirm(ctx, "d 1", tok, "87654321") },
			"POST", "/api/v1/devices/d%201/confirm", auth, `{"response":"87654321"}`, ""},
		{func() (any, error) { return c.Events(ctx, "d1", tok, 7, 1500*time.Millisecond) },
			"GET", "/api/v1/devices/d1/events", auth, "", "after=7&wait=1500"},
		{func() (any, error) {
			return c.EventsWith(ctx, "d1", tok, EventsQuery{After: -1, Wait: 25 * time.Second, Pending: "0123456789abcdef0123456789abcdef"})
		}, "GET", "/api/v1/devices/d1/events", auth, "", "after=-1&pending=0123456789abcdef0123456789abcdef&wait=25000"},
		{func() (any, error) {
			return c.Approve(ctx, "d1", tok, ApprovalRequest{RequestID: "l1", Number: 57, Response: "11112222"})
		}, "POST", "/api/v1/devices/d1/approvals", auth, `{"request_id":"l1","number":57,"response":"11112222"}`, ""},
		{func() (any, error) { return c.InboxChallenge(ctx, "d1", tok) },
			"POST", "/api/v1/devices/d1/inbox/challenge", auth, `{}`, ""},
		{func() (any, error) { return c.Inbox(ctx, "d1", tok, InboxRequest{ChallengeID: "c1", Response: "1"}) },
			"POST", "/api/v1/devices/d1/inbox", auth, `{"challenge_id":"c1","response":"1"}`, ""},
		{func() (any, error) { return c.PINChallenge(ctx, "d1", tok) },
			"POST", "/api/v1/devices/d1/pin-challenge", auth, `{}`, ""},
		{func() (any, error) {
			return nil, c.ProvePIN(ctx, "d1", tok, ProofResponse{ChallengeID: "c2", Response: "2"})
		},
			"POST", "/api/v1/devices/d1/pin-proof", auth, `{"challenge_id":"c2","response":"2"}`, ""},
	} {
		*got = nil
		out, err := call.do()
		if err != nil {
			t.Errorf("%s %s: %v", call.method, call.path, err)
			continue
		}
		if len(*got) != 1 {
			t.Fatalf("%s %s: %d requests", call.method, call.path, len(*got))
		}
		r := (*got)[0]
		wantType := "application/json"
		if call.method == "GET" {
			wantType = ""
		}
		if r.method != call.method || r.path != call.path || r.query != call.query || r.auth != call.auth || r.body != call.body || r.ctype != wantType {
			t.Errorf("request %+v,\nwant %s %s?%s auth %q type %q body %s", r, call.method, call.path, call.query, call.auth, wantType, call.body)
		}
		// The answer is decoded into the call's result.
		switch o := out.(type) {
		case Enrollment:
			if o.ID != "e1" {
				t.Errorf("%s: %+v", call.path, o)
			}
		case Activation:
			if o.DeviceID != "d9" {
				t.Errorf("%s: %+v", call.path, o)
			}
		case Events:
			if o.Next != 5 {
				t.Errorf("%s: %+v", call.path, o)
			}
		case Status:
			if o.Status != "active" {
				t.Errorf("%s: %+v", call.path, o)
			}
		case ProofChallenge:
			if o.Challenge != "123456" {
				t.Errorf("%s: %+v", call.path, o)
			}
		case Inbox:
			if len(o.Deliveries) != 1 || o.Deliveries[0].ID != "x" {
				t.Errorf("%s: %+v", call.path, o)
			}
		}
	}
}

// TestClientErrors: an error answer becomes an *Error with the service's
// code, message and attempts left, unwrapping to the sentinel of its code;
// an answer that is not JSON keeps the status text.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := fakeService(t, 403, `{"error":"invalid_response","message":"wrong response","attempts_left":2}`)
	err := c.Confirm(ctx, "d1", []byte{1}, "1")
	var e *Error
	if !errors.As(err, &e) || e.Status != 403 || e.Code != CodeInvalidResponse || e.Message != "wrong response" || e.AttemptsLeft != 2 || !errors.Is(err, ErrInvalidResponse) {
		t.Errorf("403: %#v", err)
	}
	if got := err.Error(); got != "service: invalid_response: wrong response (2 attempts left)" {
		t.Errorf("Error() = %q", got)
	}
	c, _ = fakeService(t, 423, `{"error":"locked","message":""}`)
	err = c.Confirm(ctx, "d1", nil, "1")
	if !errors.As(err, &e) || e.AttemptsLeft != -1 || err.Error() != "service: locked" || !errors.Is(err, ErrLocked) {
		t.Errorf("423: %#v %q", err, err)
	}
	c, _ = fakeService(t, 200, `{"error":"locked","message":"m","attempts_left":0}`)
	if err := c.Confirm(ctx, "d1", nil, "1"); err != nil {
		t.Errorf("an error body with 200 is no error: %v", err)
	}
	for _, st := range []int{500, 304, 300} {
		c, _ = fakeService(t, st, `<html>`)
		err = c.Confirm(ctx, "d1", nil, "1")
		if !errors.As(err, &e) || e.Status != st || e.Code != http.StatusText(st) || e.AttemptsLeft != -1 || errors.Unwrap(e) != nil {
			t.Errorf("%d: %#v", st, err)
		}
	}
	c, _ = fakeService(t, 404, `{"message":"no error code"}`)
	if err := c.Confirm(ctx, "d1", nil, "1"); !errors.As(err, &e) || e.Code != "Not Found" || e.Message != "" {
		t.Errorf("404 without an error code: %#v", err)
	}
	c, _ = fakeService(t, 201, `{"status":"created"}`)
	if err := c.Confirm(ctx, "d1", nil, "1"); err != nil {
		t.Errorf("201: %v", err)
	}
	c, _ = fakeService(t, 200, `{"status":`)
	if err := c.Confirm(ctx, "d1", nil, "1"); err == nil || !strings.Contains(err.Error(), "decode answer of /api/v1/devices/d1/confirm") {
		t.Errorf("a truncated answer: %v", err)
	}
	// At most 1 MiB of an answer is read.
	big := `{"status":"` + strings.Repeat("a", 1<<20) + `"}`
	c, _ = fakeService(t, 200, big)
	if err := c.Confirm(ctx, "d1", nil, "1"); err == nil {
		t.Error("an answer over 1 MiB was read whole")
	}
	fit := `{"status":"` + strings.Repeat("a", 1<<20-14) + `"}`
	c, _ = fakeService(t, 200, fit)
	var st Status
	if err := c.do(ctx, "GET", "/x", nil, nil, &st); err != nil || len(st.Status) != 1<<20-14 {
		t.Errorf("an answer of exactly 1 MiB: %d, %v", len(st.Status), err)
	}
	// No service, or no URL.
	c = &Client{BaseURL: "http://127.0.0.1:1"}
	if err := c.Confirm(ctx, "d1", nil, "1"); err == nil || !strings.HasPrefix(err.Error(), "protocol: ") {
		t.Errorf("no service: %v", err)
	}
	c = &Client{BaseURL: "http://a b"}
	if err := c.Confirm(ctx, "d1", nil, "1"); err == nil || !strings.HasPrefix(err.Error(), "protocol: ") {
		t.Errorf("a bad URL: %v", err)
	}
	if err := c.do(ctx, "POST", "/x", nil, func() {}, nil); err == nil {
		t.Error("a body that is not JSON was sent")
	}
}

// TestClientDefaultHTTP: a Client without HTTP uses http.DefaultClient.
func TestClientDefaultHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(Status{Status: "active"})
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	if err := c.Confirm(context.Background(), "d1", nil, "1"); err != nil {
		t.Fatal(err)
	}
}

// TestErrorUnwrapCodes: each stable code of docs/PROTOCOL.md that a
// caller acts on unwraps to its sentinel; the others to none.
func TestErrorUnwrapCodes(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]error{
		"invalid_credentials": ErrBadCredentials,
		"invalid_code":        ErrInvalidCode,
		"invalid_response":    ErrInvalidResponse,
		"wrong_number":        ErrWrongNumber,
		"locked":              ErrLocked,
		"gone":                ErrGone,
		"rate_limited":        ErrRateLimited,
		"device_retired":      ErrDeviceRetired,
		"unauthorized":        ErrUnauthorized,
		"bad_request":         nil,
		"internal":            nil,
		"not_found":           nil,
	} {
		if got := (&Error{Code: code}).Unwrap(); got != want {
			t.Errorf("%s unwraps to %v, want %v", code, got, want)
		}
	}
	if got := (&Error{Code: "gone", Message: "m", AttemptsLeft: 0}).Error(); got != "service: gone: m (0 attempts left)" {
		t.Errorf("Error() = %q", got)
	}
}
