package core

import (
	"context"
	"io"
	"log/slog"
	"sort"

	"ibkey/portal/store"
)

// The audit log: one record per security event, kept in the store (written
// in the transaction of the change it records, where there is one) and
// printed as one JSON object a line through log/slog ([LogAudit], `ibkey
// admin audit`). A record holds the time, the event, the username, the
// device, the client address, the outcome and a few safe details: never
// a password, a code, a Session ID, a response, a key or a temporary
// password.

// The audit events.
const (
	AuditAccountCreated  = "account.created"  // an administrator made the account
	AuditAccountLocked   = "account.locked"   // a failure locked it: detail hard, until
	AuditAccountUnlocked = "account.unlocked" // an administrator unlocked it
	AuditAccountRenamed  = "account.renamed"  // a schema migration renamed it (usernames: one case)

	AuditPasswordFailed  = "password.failed"  // a wrong password; detail where
	AuditPasswordChanged = "password.changed" // detail how: stepup, temporary
	AuditTempIssued      = "temp_password.issued"
	AuditTempDelivered   = "temp_password.delivered"
	AuditEnrollStarted   = "enrollment.started" // detail enrollment, channel
	AuditCodeSent        = "code.sent"          // an SMS or a voice call; detail channel, to (masked)
	AuditCodeFailed      = "code.failed"        // a wrong activation code or Session ID
	AuditDeviceEnrolled  = "device.enrolled"    // activated, waiting for its confirmation
	AuditDeviceConfirmed = "device.confirmed"   // now the user's active device
	AuditDeviceRetired   = "device.retired"     // replaced by another; detail by
	AuditLoginStarted    = "login.started"      // detail login, app, push
	AuditLoginApproved   = "login.approved"     // detail login, method: response, push
	AuditLoginDenied     = "login.denied"       // outcome fraud, mistake
	AuditLoginFailed     = "login.failed"       // a wrong response or approval; detail login
	AuditStepUpStarted   = "stepup.started"     // a portal step-up: the login.* of a task
	AuditStepUpApproved  = "stepup.approved"    // detail purpose
	AuditStepUpDenied    = "stepup.denied"
	AuditStepUpFailed    = "stepup.failed"
	AuditPINProved       = "pin.proved" // detail kind: pin, inbox
	AuditPINFailed       = "pin.failed"
	AuditRateLimited     = "rate_limited" // detail limit
)

// AuditHandler is the slog handler of the audit log's JSON lines: the
// record's message is the event, and there is no level.
func AuditHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 {
			switch a.Key {
			case slog.LevelKey:
				return slog.Attr{}
			case slog.MessageKey:
				a.Key = "event"
			}
		}
		return a
	}})
}

// LogAudit writes e to h as one record: time, event, username, device,
// ip, outcome (those that are set), then the details by key.
func LogAudit(ctx context.Context, h slog.Handler, e store.AuditEvent) error {
	r := slog.NewRecord(e.Time.UTC(), slog.LevelInfo, e.Event, 0)
	for _, f := range []struct{ k, v string }{{"username", e.Username}, {"device", e.Device}, {"ip", e.IP}, {"outcome", e.Outcome}} {
		if f.v != "" {
			r.AddAttrs(slog.String(f.k, f.v))
		}
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.AddAttrs(slog.String(k, e.Detail[k]))
	}
	return h.Handle(ctx, r)
}

// ReadAudit calls fn with the audit records that f selects, oldest first,
// reading the store a page at a time.
func ReadAudit(ctx context.Context, st store.Store, f store.AuditFilter, fn func(store.AuditEvent) error) error {
	const page = 1000
	left := f.Limit
	for {
		q := f
		q.Limit = page
		if left > 0 && left < page {
			q.Limit = left
		}
		var evs []store.AuditEvent
		if err := st.View(ctx, func(tx store.Tx) error {
			var err error
			evs, err = tx.Audit(q)
			return err
		}); err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			f.After = e.ID
		}
		if left > 0 {
			if left -= len(evs); left <= 0 {
				return nil
			}
		}
		if len(evs) < q.Limit {
			return nil
		}
	}
}

// audit writes e in tx, at the service's time unless e has one.
func (s *Service) audit(tx store.Tx, e store.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	return tx.InsertAudit(e)
}

// auditAlone writes e in a transaction of its own, for events that change
// nothing else (a rate limit hit); a failure goes to the log only.
func (s *Service) auditAlone(ctx context.Context, e store.AuditEvent) {
	if err := s.st.Update(context.WithoutCancel(ctx), func(tx store.Tx) error { return s.audit(tx, e) }); err != nil {
		s.log.Error("audit", "event", e.Event, "err", err)
	}
}
