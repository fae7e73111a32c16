package portal

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/store"
)

// pollResult is one answer of the events long-poll and how long it took.
type pollResult struct {
	evs  protocol.Events
	err  error
	took time.Duration
}

// startPoll long-polls the device channel in the background, waiting at
// most wait, with the digest of the list the device holds.
func (h *harness) startPoll(d *device, after int64, pending []string, wait time.Duration) <-chan pollResult {
	out := make(chan pollResult, 1)
	go func() {
		start := time.Now()
		evs, err := h.client.EventsWith(context.Background(), d.id, d.token, protocol.EventsQuery{After: after, Wait: wait, Pending: protocol.PendingDigest(pending)})
		out <- pollResult{evs, err, time.Since(start)}
	}()
	return out
}

// awaitPoll is the poll's answer, which must come within limit.
func (h *harness) awaitPoll(p <-chan pollResult, limit time.Duration) protocol.Events {
	h.t.Helper()
	select {
	case r := <-p:
		if r.err != nil {
			h.t.Fatal(r.err)
		}
		return r.evs
	case <-time.After(limit):
		h.t.Fatalf("the long-poll did not answer within %v", limit)
	}
	return protocol.Events{}
}

// quiet fails if the poll answers within d: nothing changed.
func quiet(t *testing.T, p <-chan pollResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-p:
		t.Fatalf("the long-poll answered with nothing new: %+v %v", r.evs, r.err)
	case <-time.After(d):
	}
}

// The device channel's answers carry the ids of the device's login
// requests still pending, and a long-poll that passes the digest of the
// list it holds is woken the moment one leaves it: answered in the
// browser, denied, refused for a wrong number, expired. A stale digest is
// answered at once, so that nothing closed between two polls stays shown.
func TestEventsPendingList(t *testing.T) {
	h := newHarness(t)
	h.addUser("ivy", "password1")
	d := h.enroll("ivy", "password1")
	ctx := context.Background()
	const limit = time.Second

	// A login: its event and the pending list that names it.
	l1 := h.login("ivy", "password1")
	evs, err := h.client.EventsWith(ctx, d.id, d.token, protocol.EventsQuery{Pending: protocol.PendingDigest(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.Events) != 1 || !slices.Equal(evs.Pending, []string{l1.ID}) {
		t.Fatalf("first answer: %d events, pending %v; want 1 and [%s]", len(evs.Events), evs.Pending, l1.ID)
	}
	next := evs.Next

	// Answered in the browser with a response string: the poll wakes.
	p := h.startPoll(d, next, []string{l1.ID}, 10*time.Second)
	quiet(t, p, 100*time.Millisecond)
	var login store.Login
	h.store.View(ctx, func(tx store.Tx) error { login, err = tx.Login(l1.ID); return err })
	if code, eb := h.answer(l1.ID, d.respond(t, login.Challenge)); code != 200 {
		t.Fatalf("response: %d %+v", code, eb)
	}
	if got := h.awaitPoll(p, limit); len(got.Pending) != 0 || len(got.Events) != 0 || got.Next != next {
		t.Fatalf("after the response: %+v, want no events and an empty list", got)
	}

	// A wrong response in the browser closes it too.
	l2 := h.login("ivy", "password1")
	evs, _ = h.client.EventsWith(ctx, d.id, d.token, protocol.EventsQuery{After: next})
	next = evs.Next
	p = h.startPoll(d, next, evs.Pending, 10*time.Second)
	h.store.View(ctx, func(tx store.Tx) error { login, err = tx.Login(l2.ID); return err })
	if code, _ := h.answer(l2.ID, wrong(d.respond(t, login.Challenge))); code != http.StatusForbidden {
		t.Fatalf("wrong response: %d", code)
	}
	if got := h.awaitPoll(p, limit); len(got.Pending) != 0 {
		t.Fatalf("after a wrong response: pending %v", got.Pending)
	}

	// Denied by the device (or another long-poll of it).
	l3 := h.login("ivy", "password1")
	evs, _ = h.client.EventsWith(ctx, d.id, d.token, protocol.EventsQuery{After: next})
	next = evs.Next
	p = h.startPoll(d, next, evs.Pending, 10*time.Second)
	if _, err := h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l3.ID, Deny: protocol.DenyMistake}); err != nil {
		t.Fatal(err)
	}
	if got := h.awaitPoll(p, limit); len(got.Pending) != 0 {
		t.Fatalf("after a denial: pending %v", got.Pending)
	}

	// Closed between two polls: the next poll, with the stale list's
	// digest, is answered at once.
	l4 := h.login("ivy", "password1")
	evs, _ = h.client.EventsWith(ctx, d.id, d.token, protocol.EventsQuery{After: next})
	next = evs.Next
	stale := evs.Pending
	if !slices.Equal(stale, []string{l4.ID}) {
		t.Fatalf("pending %v, want [%s]", stale, l4.ID)
	}
	h.client.Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l4.ID, Deny: protocol.DenyFraud})
	r := <-h.startPoll(d, next, stale, 10*time.Second)
	if r.err != nil || len(r.evs.Pending) != 0 || r.took > limit {
		t.Fatalf("stale list: %+v %v after %v", r.evs, r.err, r.took)
	}

	// Expired: two minutes after the login, it leaves the list.
	l5 := h.login("ivy", "password1")
	evs, _ = h.client.EventsWith(ctx, d.id, d.token, protocol.EventsQuery{After: next})
	next = evs.Next
	p = h.startPoll(d, next, []string{l5.ID}, 10*time.Second)
	quiet(t, p, 100*time.Millisecond)
	h.clock.Add(2*time.Minute + time.Second)
	if got := h.awaitPoll(p, limit); len(got.Pending) != 0 {
		t.Fatalf("after the expiry: pending %v", got.Pending)
	}

	// Without a digest (an older device) the poll waits as before, and
	// its answer has the list too.
	h.login("ivy", "password1")
	evs, _ = h.client.EventsWith(ctx, d.id, d.token, protocol.EventsQuery{After: next})
	if len(evs.Pending) != 1 {
		t.Fatalf("pending %v", evs.Pending)
	}
	start := time.Now()
	evs, err = h.client.Events(ctx, d.id, d.token, evs.Next, 300*time.Millisecond)
	if err != nil || len(evs.Events) != 0 || len(evs.Pending) != 1 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("old poll: %+v %v after %v", evs, err, time.Since(start))
	}
}

// A digest that is not one is refused, and the list is in the JSON
// answer even when it is empty.
func TestEventsPendingWire(t *testing.T) {
	h := newHarness(t)
	h.addUser("jon", "password1")
	d := h.enroll("jon", "password1")
	if _, err := h.client.EventsWith(context.Background(), d.id, d.token, protocol.EventsQuery{Pending: "not-a-digest"}); apiCode(err) != protocol.CodeBadRequest {
		t.Fatalf("bad digest: %v", err)
	}
	req, _ := http.NewRequest("GET", h.ts.URL+"/api/v1/devices/"+d.id+"/events?wait=0", nil)
	req.Header.Set("Authorization", protocol.AuthScheme+" "+base64.RawURLEncoding.EncodeToString(d.token))
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"pending":[]`) {
		t.Fatalf("answer %s lacks an empty pending list", b)
	}
}
