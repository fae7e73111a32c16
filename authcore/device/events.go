package device

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
)

// Request is a seamless login request for a user of this device, signed by
// the service key pinned at enrollment and addressed to this device.
type Request struct {
	User    string         // the device user it is for
	Event   protocol.Event // who, where, what, the numbers, the expiry
	Payload []byte         // the signed payload: an input of the approval
}

// DefaultPollWait is how long one long-poll of the device channel waits.
const DefaultPollWait = 25 * time.Second

// Poll long-polls the device channel of the user called name for the
// events after the sequence number after, waiting at most wait. It returns
// the login requests that have not expired (other events are skipped) and
// the sequence number to pass next. Every event must verify under the
// pinned service key: if one does not, the batch is refused with an error
// that wraps [protocol.ErrSignature], and next still moves past it.
func (d *Device) Poll(ctx context.Context, name string, after int64, wait time.Duration) ([]Request, int64, error) {
	u, token, _, err := d.enrolled(name)
	if err != nil {
		return nil, after, err
	}
	evs, err := d.client(u.Service).Events(ctx, u.DeviceID, token, after, wait)
	if err != nil {
		return nil, after, err
	}
	next := max(after, evs.Next)
	var out []Request
	now := d.now()
	for _, se := range evs.Events {
		next = max(next, se.Seq)
		ev, err := protocol.OpenEvent(u.ServiceKey, u.DeviceID, se)
		if err != nil {
			return nil, next, fmt.Errorf("device: event %d refused: %w", se.Seq, err)
		}
		if ev.Type == protocol.EventLogin && !ev.Expired(now) && len(ev.Numbers) == 3 {
			out = append(out, Request{User: name, Event: ev, Payload: se.Payload})
		}
	}
	return out, next, nil
}

// WaitLogin long-polls until a login request for the user called name
// arrives, and returns the first. It fails when ctx ends first, and at once
// on an event that does not verify (a forged event: stop, loudly).
func (d *Device) WaitLogin(ctx context.Context, name string) (Request, error) {
	var after int64
	for {
		wait := DefaultPollWait
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 {
			return Request{}, errors.New("device: no login request came")
		}
		reqs, next, err := d.Poll(ctx, name, after, wait)
		if err != nil {
			if ctx.Err() != nil {
				return Request{}, errors.New("device: no login request came")
			}
			return Request{}, err
		}
		if len(reqs) > 0 {
			return reqs[0], nil
		}
		after = next
	}
}

// Notice is what [Device.Watch] delivers about one user's device channel.
type Notice struct {
	User string
	// Online reports whether the last poll got an answer of the service.
	Online bool
	// Request is a login request, or nil.
	Request *Request
	// Err says why a poll failed. With Online false the service could not
	// be reached ([Offline]); a device retired by another activation
	// ([protocol.ErrDeviceRetired], [protocol.ErrUnauthorized]) is no longer
	// polled.
	Err error
}

// WatchOptions tune [Device.Watch]; zero fields take defaults.
type WatchOptions struct {
	Wait   time.Duration // one long-poll: DefaultPollWait
	Retry  time.Duration // first pause after a failed poll, doubled up to 30 s: 1 s
	Rescan time.Duration // how often the vault is read for added or removed users: 3 s
}

// Watch long-polls the device channel of every enrolled user of the vault,
// following users as they are added, renamed and removed, until ctx ends;
// then it closes the channel. A user's first notice tells whether its
// service answered; later ones come when that changes, with each login
// request, and with each failure that is not a lost connection.
func (d *Device) Watch(ctx context.Context, o WatchOptions) <-chan Notice {
	if o.Wait <= 0 {
		o.Wait = DefaultPollWait
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Rescan <= 0 {
		o.Rescan = 3 * time.Second
	}
	out := make(chan Notice)
	go func() {
		var wg sync.WaitGroup
		defer close(out)
		defer wg.Wait()
		type poller struct {
			device string
			cancel context.CancelFunc
		}
		running := map[string]poller{}
		retired := map[string]bool{} // device ids no longer polled
		var mu sync.Mutex
		tick := time.NewTicker(o.Rescan)
		defer tick.Stop()
		for {
			users, err := d.Vault.List()
			if err == nil {
				seen := map[string]bool{}
				for _, u := range users {
					if u.Service == "" || u.DeviceID == "" || len(u.ServiceKey) == 0 {
						continue
					}
					mu.Lock()
					gone := retired[u.DeviceID]
					mu.Unlock()
					if gone {
						continue
					}
					seen[u.Name] = true
					if p, ok := running[u.Name]; ok && p.device == u.DeviceID {
						continue
					} else if ok {
						p.cancel()
					}
					pctx, cancel := context.WithCancel(ctx)
					running[u.Name] = poller{u.DeviceID, cancel}
					wg.Add(1)
					go func(name, device string) {
						defer wg.Done()
						if d.pollUser(pctx, name, o, out) {
							mu.Lock()
							retired[device] = true
							mu.Unlock()
						}
					}(u.Name, u.DeviceID)
				}
				for name, p := range running {
					if !seen[name] {
						p.cancel()
						delete(running, name)
					}
				}
			}
			select {
			case <-ctx.Done():
				for _, p := range running {
					p.cancel()
				}
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// pollUser polls one user's channel until ctx ends or the device is
// retired (then it returns true).
func (d *Device) pollUser(ctx context.Context, name string, o WatchOptions, out chan<- Notice) (retired bool) {
	send := func(n Notice) bool {
		select {
		case out <- n:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var after int64
	online, known := false, false
	pause := o.Retry
	for ctx.Err() == nil {
		reqs, next, err := d.Poll(ctx, name, after, o.Wait)
		after = next
		if ctx.Err() != nil {
			return false
		}
		switch {
		case err == nil:
			pause = o.Retry
			if !known || !online {
				known, online = true, true
				if !send(Notice{User: name, Online: true}) {
					return false
				}
			}
			for i := range reqs {
				if !send(Notice{User: name, Online: true, Request: &reqs[i]}) {
					return false
				}
			}
			continue
		case Offline(err):
			if !known || online {
				known, online = true, false
				if !send(Notice{User: name, Online: false, Err: err}) {
					return false
				}
			}
		case errors.Is(err, protocol.ErrDeviceRetired) || errors.Is(err, protocol.ErrUnauthorized) || errors.Is(err, vault.ErrNoUser) || errors.Is(err, ErrNotEnrolled):
			send(Notice{User: name, Online: true, Err: err})
			return !errors.Is(err, vault.ErrNoUser)
		default:
			known, online = true, true
			if !send(Notice{User: name, Online: true, Err: err}) {
				return false
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
	return false
}

// Approve answers the login request r with the number chosen among its
// three, opening the user's secret as how says: the response is OCRA of
// the approval suite over the request's challenge and a hash of its signed
// payload and the number. A number that is not one of the three is refused
// here; one that is not the browser's comes back from the service. Both
// wrap ErrWrongNumber; a response the service refuses (a wrong PIN) wraps
// ErrWrongPIN; an expired or answered request wraps ErrExpired.
func (d *Device) Approve(ctx context.Context, r Request, number int, how vault.Unlock) error {
	if !slices.Contains(r.Event.Numbers, number) {
		return fmt.Errorf("%w: %d is not one of %v", ErrWrongNumber, number, r.Event.Numbers)
	}
	if r.Event.Expired(d.now()) {
		return ErrExpired
	}
	u, token, _, err := d.enrolled(r.User)
	if err != nil {
		return err
	}
	if u.DeviceID != r.Event.DeviceID {
		return fmt.Errorf("device: the request is for device %q, not %q's", r.Event.DeviceID, r.User)
	}
	s, err := d.Vault.Unlock(r.User, how, d.now())
	if err != nil {
		return err
	}
	resp, err := s.RespondSuite(ocra.MustParseSuite(protocol.SuiteApprove), protocol.ApprovalInput(r.Event, r.Payload, number))
	s.Close()
	if err != nil {
		return err
	}
	_, err = d.client(u.Service).Approve(ctx, u.DeviceID, token, protocol.ApprovalRequest{RequestID: r.Event.ID, Number: number, Response: resp})
	return serviceOutcome(err)
}

// Deny refuses the login request r for reason (protocol.DenyFraud or
// protocol.DenyMistake). No unlock is needed.
func (d *Device) Deny(ctx context.Context, r Request, reason string) error {
	if reason != protocol.DenyFraud && reason != protocol.DenyMistake {
		return fmt.Errorf("device: deny reason %q: want fraud or mistake", reason)
	}
	u, token, _, err := d.enrolled(r.User)
	if err != nil {
		return err
	}
	_, err = d.client(u.Service).Approve(ctx, u.DeviceID, token, protocol.ApprovalRequest{RequestID: r.Event.ID, Deny: reason})
	return serviceOutcome(err)
}

// serviceOutcome adds this package's sentinels to the service's answers
// that mean them.
func serviceOutcome(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, protocol.ErrWrongNumber):
		return fmt.Errorf("%w: %w", ErrWrongNumber, err)
	case errors.Is(err, protocol.ErrInvalidResponse):
		return fmt.Errorf("%w: %w", ErrWrongPIN, err)
	case errors.Is(err, protocol.ErrGone):
		return fmt.Errorf("%w: %w", ErrExpired, err)
	}
	return err
}
