package ibkeykit

import (
	"time"

	core "ibkey/authcore/device"
	"ibkey/authcore/protocol"
)

// Request is a seamless login request for a user of this device, signed
// by the service key pinned at enrollment (a request that does not
// verify never reaches here: Poll fails with CodeSignature). Get one from
// Poll; an empty one (its constructor's) is refused by Approve and Deny.
type Request struct {
	r core.Request
}

// ID is the login's id at the service.
func (r *Request) ID() string { return r.r.Event.ID }

// User is the name of the device user the request is for.
func (r *Request) User() string { return r.r.User }

// App, IP and Browser say where the login comes from.
func (r *Request) App() string { return r.r.Event.Context.App }

// IP is the address of the browser that logs in.
func (r *Request) IP() string { return r.r.Event.Context.IP }

// Browser is the browser that logs in, as it says.
func (r *Request) Browser() string { return r.r.Event.Context.Browser }

// Time is when the login started, in Unix seconds.
func (r *Request) Time() int64 {
	if t := r.r.Event.Context.Time; !t.IsZero() {
		return t.Unix()
	}
	return unix(r.r.Event.IssuedAt)
}

// ExpiresAt is when the request expires, in Unix seconds.
func (r *Request) ExpiresAt() int64 { return unix(r.r.Event.ExpiresAt) }

// NumberCount is the number of numbers to choose among (3).
func (r *Request) NumberCount() int { return len(r.r.Event.Numbers) }

// Number returns the i-th number to choose among, or -1 when i is out of
// range. The browser shows one of them; the person picks it here.
func (r *Request) Number(i int) int {
	if i < 0 || i >= len(r.r.Event.Numbers) {
		return -1
	}
	return r.r.Event.Numbers[i]
}

// Requests is what one Poll returned: the login requests and the sequence
// number to pass to the next Poll.
type Requests struct {
	// Next is the sequence number to pass to the next Poll.
	Next int64
	list []*Request
}

// Len returns the number of requests.
func (l *Requests) Len() int { return len(l.list) }

// Get returns the i-th request, or nil when i is out of range.
func (l *Requests) Get(i int) *Request {
	if i < 0 || i >= len(l.list) {
		return nil
	}
	return l.list[i]
}

// MaxWait is the longest wait of one Poll, in seconds.
const MaxWait = 60

// Poll long-polls the device channel of the user called name for the
// events after the sequence number after (0 at first, then Requests.Next),
// waiting at most waitSeconds (0: 25 s; at most MaxWait) for one. It
// returns the login requests that have not expired. Every event must
// verify under the service key pinned at enrollment: one that does not
// fails the call with CodeSignature, and nothing of its batch is
// returned. That is a forged or damaged event (the service, or something
// between it and this device, is not what was enrolled): stop polling
// this user and tell the person, as the command line does.
// A removed user or an imported token is CodeNoUser or CodeNotEnrolled.
func (v *Vault) Poll(name string, after, waitSeconds int64) (*Requests, error) {
	ctx, err := v.context()
	if err != nil {
		return nil, err
	}
	if after < 0 || waitSeconds < 0 || waitSeconds > MaxWait {
		return nil, errorf(CodeInvalid, "after or wait out of range")
	}
	wait := time.Duration(waitSeconds) * time.Second
	if wait == 0 {
		wait = core.DefaultPollWait
	}
	rs, next, err := v.d.Poll(ctx, name, after, wait)
	if err != nil {
		return nil, wrap(err)
	}
	out := &Requests{Next: next, list: make([]*Request, len(rs))}
	for i, r := range rs {
		out.list[i] = &Request{r: r}
	}
	return out, nil
}

func (r *Request) check() error {
	if r == nil || r.r.Event.ID == "" || len(r.r.Payload) == 0 {
		return errEmpty
	}
	return nil
}

// Approve answers the login request r with number, the one the browser
// shows, chosen among r's numbers, and the user's secret opened as how
// says. A number that is not the browser's is CodeWrongNumber; a
// response the service refuses (a wrong PIN) CodeWrongPIN; a request that
// expired or was answered elsewhere CodeExpired.
func (v *Vault) Approve(r *Request, number int, how *Unlock) error {
	ctx, err := v.context()
	if err != nil {
		return err
	}
	if err := r.check(); err != nil {
		return err
	}
	u, err := how.vault()
	if err != nil {
		return err
	}
	return wrap(v.d.Approve(ctx, r.r, number, u))
}

// The reasons to deny a login request.
const (
	// DenyFraud: the person did not start this login.
	DenyFraud = protocol.DenyFraud
	// DenyMistake: the person started it by mistake.
	DenyMistake = protocol.DenyMistake
)

// Deny refuses the login request r for reason, DenyFraud or DenyMistake.
// No unlock is needed.
func (v *Vault) Deny(r *Request, reason string) error {
	ctx, err := v.context()
	if err != nil {
		return err
	}
	if err := r.check(); err != nil {
		return err
	}
	if reason != DenyFraud && reason != DenyMistake {
		return errorf(CodeInvalid, "deny reason %q: want %q or %q", reason, DenyFraud, DenyMistake)
	}
	return wrap(v.d.Deny(ctx, r.r, reason))
}
