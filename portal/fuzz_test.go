package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
)

// FuzzDecodeRequests round-trips every request type of the API through
// decodeJSON: what decodes re-encodes and decodes to the same value.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"pw","channel":"sms"}`,
		`{"code":"12345678","public_key":"AAAA","delivery_key":"AAAA","channel_token":"AAAA","card":true,"pin_hash":"AAAA"}`,
		`{"request_id":"x","number":12,"response":"12345678"}`,
		`{"request_id":"x","deny":"fraud"}`,
		`{"challenge_id":"x","response":"1"}`,
		`{"response":"1234 5678"}`,
		`{"session":"K7QF-2MZP-XW3D-9HJT"}`,
		`{"session":"K7QF2MZPXW3D9HJT","public_key":"AAAA","delivery_key":"AAAA","channel_token":"AAAA"}`,
		`{"username":"a","password":"b","app":"c","browser":"d"}`,
		`{} {}`, `[`, `null`,
	} {
		f.Add([]byte(s))
	}
	news := []func() any{
		func() any { return new(protocol.EnrollRequest) },
		func() any { return new(protocol.ResendRequest) },
		func() any { return new(protocol.ActivateRequest) },
		func() any { return new(protocol.ConfirmRequest) },
		func() any { return new(protocol.ApprovalRequest) },
		func() any { return new(protocol.InboxRequest) },
		func() any { return new(protocol.LoginRequest) },
		func() any { return new(protocol.LoginAnswer) },
		func() any { return new(protocol.PasswordChange) },
		func() any { return new(protocol.SessionRequest) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, nw := range news {
			v := nw()
			if err := decodeJSON(bytes.NewReader(data), v); err != nil {
				if _, ok := err.(*apiError); !ok {
					t.Fatalf("decode error of the wrong type: %T", err)
				}
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			w := nw()
			if err := decodeJSON(bytes.NewReader(b), w); err != nil {
				t.Fatalf("re-decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(normalize(v), normalize(w)) {
				t.Fatalf("round trip %T: %+v != %+v", v, v, w)
			}
		}
	})
}

// normalize treats nil and empty byte slices alike (JSON cannot tell them apart).
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var m any
	json.Unmarshal(b, &m)
	return m
}

// FuzzHandler sends arbitrary bodies, paths and headers to every endpoint:
// no answer is a 5xx, every error is {"error","message"}.
func FuzzHandler(f *testing.F) {
	f.Add("POST", "/api/v1/logins", []byte(`{"username":"alice","password":"password1"}`), "")
	f.Add("POST", "/api/v1/enrollments", []byte(`{"username":"alice","password":"password1","channel":"voice"}`), "")
	f.Add("POST", "/api/v1/enrollments/x/activate", []byte(`{"code":"1","public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`), "")
	f.Add("POST", "/api/v1/devices/x/approvals", []byte(`{"request_id":"x","deny":"fraud"}`), "Device AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("GET", "/api/v1/devices/x/events?after=-1&wait=0", []byte{}, "Device x")
	f.Add("POST", "/api/v1/logins/x/response", []byte(`{"response":"12345678"}`), "")
	f.Add("POST", "/api/v1/devices/x/inbox", []byte(`{"challenge_id":"x","response":"1"}`), "")
	f.Add("POST", "/api/v1/enrollments/session", []byte(`{"session":"K7QF-2MZP-XW3D-9HJT"}`), "")
	f.Add("GET", "/api/v1/enrollments/session", []byte{}, "")
	f.Add("POST", "/api/v1/nothing/at/all", []byte{}, "")
	h := newHarness(f)
	h.addUser("alice", "password1")
	handler := h.srv.Handler()
	f.Fuzz(func(t *testing.T, method, path string, body []byte, auth string) {
		if method != "GET" && method != "POST" {
			method = "POST"
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		if _, err := url.ParseRequestURI("http://x" + path); err != nil {
			return
		}
		req := httptest.NewRequest(method, "http://x"+path, bytes.NewReader(body))
		if auth != "" && !strings.ContainsAny(auth, "\r\n") {
			req.Header.Set("Authorization", auth)
		}
		// Bounds a long-poll; generous, so that a loaded machine does not
		// turn a slow query into a 500 and a false finding.
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req.WithContext(ctx))
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var eb protocol.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Message == "" {
				t.Fatalf("%s %s: %d with body %q", method, path, rec.Code, rec.Body)
			}
		}
		_ = http.StatusOK
	})
}

// FuzzCheckPassword parses stored hashes: no panic, and costs are capped.
func FuzzCheckPassword(f *testing.F) {
	good, _ := core.HashPassword(strings.NewReader(strings.Repeat("s", 16)), "pw", fastArgon)
	f.Add(good, "pw")
	f.Add("$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA", "pw")
	f.Fuzz(func(t *testing.T, enc, pw string) {
		ok, err := core.CheckPassword(enc, pw)
		if ok && err != nil {
			t.Fatal("ok with an error")
		}
	})
}
