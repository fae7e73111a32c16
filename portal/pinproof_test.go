package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
)

func attemptsLeft(err error) int {
	var e *protocol.Error
	if errors.As(err, &e) {
		return e.AttemptsLeft
	}
	return -2
}

// TestPINProof: the PIN proof before a PIN change. A right response is
// accepted once and releases nothing; a wrong one counts toward the lockout
// as an inbox proof does; a spent, expired or foreign challenge is refused;
// a locked user can neither ask nor answer.
func TestPINProof(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.Limits.LockoutThreshold = 3; c.Limits.LockoutDuration = time.Minute })
	h.addUser("pat", "password1")
	d := h.enroll("pat", "password1")
	ctx := context.Background()
	prove := func(ch protocol.ProofChallenge, response string) error {
		return h.client.ProvePIN(ctx, d.id, d.token, protocol.ProofResponse{ChallengeID: ch.ID, Response: response})
	}
	challenge := func() protocol.ProofChallenge {
		t.Helper()
		ch, err := h.client.PINChallenge(ctx, d.id, d.token)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Challenge) != 6 || !ch.ExpiresAt.Equal(h.clock.Now().Add(3*time.Minute)) {
			t.Fatalf("challenge %+v", ch)
		}
		return ch
	}
	// A temporary password waits in the inbox: no PIN proof releases it.
	if _, err := core.IssueTempPassword(ctx, h.store, rand.Reader, h.clock.Now(), "pat", fastArgon); err != nil {
		t.Fatal(err)
	}

	t.Run("right", func(t *testing.T) {
		ch := challenge()
		r := d.respond(t, ch.Challenge)
		code, eb := h.do("POST", "/api/v1/devices/"+d.id+"/pin-proof", protocol.ProofResponse{ChallengeID: ch.ID, Response: r}, nil)
		if code != http.StatusUnauthorized || eb.Error != protocol.CodeUnauthorized {
			t.Fatalf("proof without the channel token: %d %+v", code, eb)
		}
		if err := prove(ch, r); err != nil {
			t.Fatalf("right proof: %v", err)
		}
	})
	t.Run("replayed", func(t *testing.T) {
		ch := challenge()
		r := d.respond(t, ch.Challenge)
		if err := prove(ch, r); err != nil {
			t.Fatal(err)
		}
		if err := prove(ch, r); !errors.Is(err, protocol.ErrGone) {
			t.Fatalf("replayed proof: %v, want gone", err)
		}
		// A wrong answer spends the challenge too.
		ch = challenge()
		if err := prove(ch, wrong(d.respond(t, ch.Challenge))); !errors.Is(err, protocol.ErrInvalidResponse) {
			t.Fatalf("wrong proof: %v", err)
		}
		if err := prove(ch, d.respond(t, ch.Challenge)); !errors.Is(err, protocol.ErrGone) {
			t.Fatalf("right proof after a wrong one: %v, want gone", err)
		}
		// The right proof after it reset the count.
		ch = challenge()
		if err := prove(ch, d.respond(t, ch.Challenge)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		ch := challenge()
		h.clock.Add(3 * time.Minute)
		if err := prove(ch, d.respond(t, ch.Challenge)); !errors.Is(err, protocol.ErrGone) {
			t.Fatalf("expired proof: %v, want gone", err)
		}
	})
	t.Run("not another kind", func(t *testing.T) {
		ib, err := h.client.InboxChallenge(ctx, d.id, d.token)
		if err != nil {
			t.Fatal(err)
		}
		if err := prove(ib, d.respond(t, ib.Challenge)); apiCode(err) != protocol.CodeNotFound {
			t.Fatalf("inbox challenge as a PIN proof: %v, want not_found", err)
		}
		ch := challenge()
		if _, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: d.respond(t, ch.Challenge)}); apiCode(err) != protocol.CodeNotFound {
			t.Fatalf("PIN challenge as an inbox proof: %v, want not_found", err)
		}
		if err := prove(protocol.ProofChallenge{ID: "00000000000000000000000000000000"}, "12345678"); apiCode(err) != protocol.CodeNotFound {
			t.Fatalf("unknown challenge: %v", err)
		}
	})
	t.Run("wrong and locked", func(t *testing.T) {
		// Counted with the other failures: a wrong inbox proof, then wrong
		// PIN proofs, lock at 3.
		ib, err := h.client.InboxChallenge(ctx, d.id, d.token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ib.ID, Response: wrong(d.respond(t, ib.Challenge))}); attemptsLeft(err) != 2 {
			t.Fatalf("wrong inbox proof: %v", err)
		}
		early := challenge() // issued before the lock
		ch := challenge()
		if err := prove(ch, wrong(d.respond(t, ch.Challenge))); !errors.Is(err, protocol.ErrInvalidResponse) || attemptsLeft(err) != 1 {
			t.Fatalf("wrong proof: %v (attempts left %d), want invalid_response with 1 left", err, attemptsLeft(err))
		}
		ch = challenge()
		if err := prove(ch, "1234"); !errors.Is(err, protocol.ErrInvalidResponse) || attemptsLeft(err) != 0 {
			t.Fatalf("malformed proof: %v (attempts left %d)", err, attemptsLeft(err))
		}
		if _, err := h.client.PINChallenge(ctx, d.id, d.token); !errors.Is(err, protocol.ErrLocked) {
			t.Fatalf("challenge while locked: %v, want locked", err)
		}
		if err := prove(early, d.respond(t, early.Challenge)); !errors.Is(err, protocol.ErrLocked) {
			t.Fatalf("proof while locked: %v, want locked", err)
		}
		if _, err := h.client.InboxChallenge(ctx, d.id, d.token); !errors.Is(err, protocol.ErrLocked) {
			t.Fatalf("inbox challenge after wrong PIN proofs: %v, want locked", err)
		}
		if err := core.UnlockAccount(ctx, h.store, h.clock.Now(), "pat"); err != nil {
			t.Fatal(err)
		}
		if err := prove(early, d.respond(t, early.Challenge)); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
	})

	// The temporary password issued at the start is still in the inbox.
	ch, err := h.client.InboxChallenge(ctx, d.id, d.token)
	if err != nil {
		t.Fatal(err)
	}
	box, err := h.client.Inbox(ctx, d.id, d.token, protocol.InboxRequest{ChallengeID: ch.ID, Response: d.respond(t, ch.Challenge)})
	if err != nil || len(box.Deliveries) != 1 {
		t.Fatalf("inbox after PIN proofs: %+v %v, want the temporary password", box, err)
	}
	if logs := h.log.String(); !strings.Contains(logs, "/pin-challenge") || !strings.Contains(logs, "/pin-proof") {
		t.Errorf("no request log of the PIN proof routes:\n%s", logs)
	}
}
