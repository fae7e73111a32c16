package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

func benchHarness(b *testing.B, argon core.Argon2Params) (*harness, *device) {
	h := newHarness(b, func(c *core.Config) {
		c.Argon2 = argon
		c.Limits.MaxOutstanding = 1 << 30
		c.Log = discardLog()
	})
	if _, err := core.CreateAccount(context.Background(), h.store, rand.Reader, h.clock.Now(), "bench", "+15550001234", "password1", argon); err != nil {
		b.Fatal(err)
	}
	return h, h.enroll("bench", "password1")
}

// prepare inserts n pending logins for d straight into the store and
// returns their ids and right responses.
func prepare(b *testing.B, h *harness, d *device, n int) ([]string, []string) {
	ids, resps := make([]string, n), make([]string, n)
	now := h.clock.Now()
	err := h.store.Update(context.Background(), func(tx store.Tx) error {
		for i := range n {
			id, _ := verifier.NewID(rand.Reader)
			ch, _ := verifier.NewChallenge(rand.Reader)
			if err := tx.InsertLogin(store.Login{ID: id, Username: "bench", DeviceID: d.id, Kind: store.KindLogin, Challenge: ch, Status: store.StatusPending, Created: now, Expires: now.Add(time.Hour)}); err != nil {
				return err
			}
			ids[i], resps[i] = id, d.respond(b, ch)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids, resps
}

// BenchmarkVerifyPure is the OCRA check alone.
func BenchmarkVerifyPure(b *testing.B) {
	suite := ocra.MustParseSuite(protocol.SuiteIBKey)
	key := make([]byte, 32)
	r, _ := ocra.Generate(suite, key, ocra.Input{Challenge: "123456"})
	b.ReportAllocs()
	for b.Loop() {
		if err := verifier.VerifyResponse(suite, key, nil, "123456", r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}

// BenchmarkResponseInProcess submits verified responses to the handler
// without a network: decode, one SQLite transaction, verify, consume.
func BenchmarkResponseInProcess(b *testing.B) {
	h, d := benchHarness(b, fastArgon)
	ids, resps := prepare(b, h, d, b.N)
	handler := h.srv.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/api/v1/logins/"+ids[i]+"/response", bytes.NewReader([]byte(`{"response":"`+resps[i]+`"}`)))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
}

// BenchmarkLoginsFastHash and BenchmarkLoginsArgon2id start logins in
// process (password check, challenge, signed push request): without the
// cost of the password hash, and with the service's Argon2id (19 MiB, t=2).
func BenchmarkLoginsFastHash(b *testing.B) { benchLogins(b, fastArgon) }
func BenchmarkLoginsArgon2id(b *testing.B) { benchLogins(b, core.DefaultArgon2) }

func benchLogins(b *testing.B, p core.Argon2Params) {
	h, _ := benchHarness(b, p)
	handler := h.srv.Handler()
	body := []byte(`{"username":"bench","password":"password1"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Two seconds a login: about 90 requests outstanding at a time,
		// each with its signed push.
		h.clock.Add(2 * time.Second)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/logins", bytes.NewReader(body)))
		if rec.Code != 201 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkPushLatency measures from the start of POST /api/v1/logins to
// the device holding the signed request from its long-poll, over loopback
// HTTP; with the cheap hash (the notification path) and with Argon2id.
func BenchmarkPushLatencyFastHash(b *testing.B) { benchPush(b, fastArgon) }
func BenchmarkPushLatencyArgon2id(b *testing.B) { benchPush(b, core.DefaultArgon2) }

func benchPush(b *testing.B, p core.Argon2Params) {
	h, d := benchHarness(b, p)
	ctx := context.Background()
	type got struct {
		id string
		at time.Time
	}
	arrivals := make(chan got, 16)
	stop := make(chan struct{})
	go func() {
		var after int64
		for {
			select {
			case <-stop:
				return
			default:
			}
			evs, err := h.client.Events(ctx, d.id, d.token, after, 2*time.Second)
			if err != nil {
				continue
			}
			now := time.Now()
			for _, se := range evs.Events {
				var ev protocol.Event
				json.Unmarshal(se.Payload, &ev)
				arrivals <- got{ev.ID, now}
			}
			if evs.Next > after {
				after = evs.Next
			}
		}
	}()
	defer close(stop)
	time.Sleep(50 * time.Millisecond)
	lat := make([]time.Duration, 0, b.N)
	body := []byte(`{"username":"bench","password":"password1"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.clock.Add(2 * time.Second)
		start := time.Now()
		resp, err := h.ts.Client().Post(h.ts.URL+"/api/v1/logins", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var l protocol.Login
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		select {
		case g := <-arrivals:
			if g.id != l.ID {
				b.Fatalf("event %s for login %s", g.id, l.ID)
			}
			lat = append(lat, g.at.Sub(start))
		case <-time.After(5 * time.Second):
			b.Fatal("no push")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	_ = fmt.Sprint
}
