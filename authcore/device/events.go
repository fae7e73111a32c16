package device

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	b, err := d.poll(ctx, u, token, protocol.EventsQuery{After: after, Wait: wait})
	return b.requests, b.next, err
}

// batch is one answer of a device channel.
type batch struct {
	requests []Request
	next     int64
	// pending is the service's list of the device's login requests still
	// pending; nil from a service that does not say.
	pending []string
}

// poll long-polls the channel of u as q says (see Poll).
func (d *Device) poll(ctx context.Context, u vault.User, token []byte, q protocol.EventsQuery) (batch, error) {
	evs, err := d.client(u.Service).EventsWith(ctx, u.DeviceID, token, q)
	if err != nil {
		return batch{next: q.After}, err
	}
	b := batch{next: max(q.After, evs.Next), pending: evs.Pending}
	now := d.now()
	for _, se := range evs.Events {
		b.next = max(b.next, se.Seq)
		ev, err := protocol.OpenEvent(u.ServiceKey, u.DeviceID, se)
		if err != nil {
			return batch{next: b.next}, fmt.Errorf("device: event %d refused: %w", se.Seq, err)
		}
		if ev.Type == protocol.EventLogin && !ev.Expired(now) && len(ev.Numbers) == 3 {
			b.requests = append(b.requests, Request{User: u.Name, Event: ev, Payload: se.Payload})
		}
	}
	return b, nil
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

// Notice is what [Device.Watch] delivers about one device channel: one
// enrolled user of this device.
type Notice struct {
	// User is the device user's name when the notice was made; it may
	// have been renamed since. Device, the device's id at the service,
	// does not change.
	User   string
	Device string
	// Online reports whether the last poll got an answer of the service.
	Online bool
	// Request is a login request, or nil.
	Request *Request
	// Over, when not "", is the id of a login request delivered before
	// that is no longer waiting: answered (here or in the browser),
	// refused, expired, or its user gone from this device.
	Over string
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

// maxRetry is the longest pause between two failed polls.
const maxRetry = 30 * time.Second

func (o WatchOptions) withDefaults() WatchOptions {
	if o.Wait <= 0 {
		o.Wait = DefaultPollWait
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Rescan <= 0 {
		o.Rescan = 3 * time.Second
	}
	return o
}

// nextPause is the pause after p when the next poll fails too.
func nextPause(p time.Duration) time.Duration { return min(2*p, maxRetry) }

// Watch long-polls the device channel of every enrolled user of the vault,
// following users as they are added, renamed and removed, until ctx ends;
// then it closes the channel. Channels are followed by device id, so that
// a rename changes nothing but the name in later notices. A user's first
// notice tells whether its service answered; later ones come when that
// changes, with each login request, with the end of each request
// delivered (Over: the service no longer lists it as pending, its
// expires_at passed, or its user was removed or retired), and with each
// failure that is not a lost connection.
func (d *Device) Watch(ctx context.Context, o WatchOptions) <-chan Notice {
	o = o.withDefaults()
	out := make(chan Notice)
	go func() {
		var wg sync.WaitGroup
		defer close(out)
		defer wg.Wait()
		running := map[string]context.CancelFunc{} // by device id
		retired := map[string]bool{}               // device ids no longer polled
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
					seen[u.DeviceID] = true
					if _, ok := running[u.DeviceID]; ok {
						continue
					}
					pctx, cancel := context.WithCancel(ctx)
					running[u.DeviceID] = cancel
					wg.Add(1)
					go func(device string) {
						defer wg.Done()
						held, isRetired := d.pollDevice(pctx, device, o, out)
						if isRetired {
							mu.Lock()
							retired[device] = true
							mu.Unlock()
						}
						// Removed or retired: what it held is over.
						for _, id := range held {
							select {
							case out <- Notice{Device: device, Online: true, Over: id}:
							case <-ctx.Done():
								return
							}
						}
					}(u.DeviceID)
				}
				for device, cancel := range running {
					if !seen[device] {
						cancel()
						delete(running, device)
					}
				}
			}
			select {
			case <-ctx.Done():
				for _, cancel := range running {
					cancel()
				}
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// enrolledDevice is enrolled for the user whose device id at the service
// is device, whatever it is called now.
func (d *Device) enrolledDevice(device string) (vault.User, []byte, []byte, error) {
	for try := 0; ; try++ {
		users, err := d.Vault.List()
		if err != nil {
			return vault.User{}, nil, nil, err
		}
		i := slices.IndexFunc(users, func(u vault.User) bool { return u.DeviceID == device })
		if i < 0 {
			return vault.User{}, nil, nil, fmt.Errorf("%w: no user of device %q", vault.ErrNoUser, device)
		}
		u, token, delivery, err := d.enrolled(users[i].Name)
		if errors.Is(err, vault.ErrNoUser) && try == 0 {
			continue // renamed between the two reads
		}
		return u, token, delivery, err
	}
}

// pollDevice polls one device channel until ctx ends or the device is
// retired or gone, and tells which login requests it delivered are over:
// left out of the service's pending list, or past their expires_at by
// this device's clock. It returns the requests it held when it stopped,
// and whether the device was retired.
func (d *Device) pollDevice(ctx context.Context, device string, o WatchOptions, out chan<- Notice) (held []string, retired bool) {
	send := func(n Notice) bool {
		n.Device = device
		select {
		case out <- n:
			return true
		case <-ctx.Done():
			return false
		}
	}
	holding := map[string]time.Time{} // request id -> its expires_at
	online, known := false, false
	ids := func() []string {
		s := slices.Collect(maps.Keys(holding))
		slices.Sort(s)
		return s
	}
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	// expire tells the requests past their expires_at; it returns false
	// when ctx ended.
	expire := func(name string) bool {
		now := d.now()
		for _, id := range ids() {
			if !now.Before(holding[id]) {
				delete(holding, id)
				if !send(Notice{User: name, Online: online, Over: id}) {
					return false
				}
			}
		}
		return true
	}
	// arm sets the expiry timer for the first request held to expire.
	arm := func() {
		if len(holding) > 0 {
			first := slices.MinFunc(slices.Collect(maps.Values(holding)), time.Time.Compare)
			expiry.Reset(max(first.Sub(d.now()), time.Millisecond))
		}
	}
	type answer struct {
		b   batch
		err error
	}
	var after int64
	var pending []string // the service's list in its last answer
	pause := o.Retry
	name := ""
	for ctx.Err() == nil {
		u, token, _, err := d.enrolledDevice(device)
		var a answer
		if err == nil {
			name = u.Name
			// The long-poll runs aside, so that expiries are told while it
			// waits.
			res := make(chan answer, 1)
			go func() {
				b, err := d.poll(ctx, u, token, protocol.EventsQuery{After: after, Wait: o.Wait, Pending: protocol.PendingDigest(pending)})
				res <- answer{b, err}
			}()
		wait:
			for {
				arm()
				select {
				case a = <-res:
					break wait
				case <-expiry.C:
					if !expire(name) {
						return ids(), false
					}
				case <-ctx.Done():
					return ids(), false
				}
			}
			after = a.b.next
		} else {
			a.err = err
		}
		if ctx.Err() != nil {
			return ids(), false
		}
		err = a.err
		switch {
		case err == nil:
			pause = o.Retry
			if !known || !online {
				known, online = true, true
				if !send(Notice{User: name, Online: true}) {
					return ids(), false
				}
			}
			if a.b.pending != nil {
				pending = a.b.pending
				for _, id := range ids() {
					if !slices.Contains(pending, id) {
						delete(holding, id)
						if !send(Notice{User: name, Online: true, Over: id}) {
							return ids(), false
						}
					}
				}
			}
			now := d.now()
			for i := range a.b.requests {
				r := &a.b.requests[i]
				if _, ok := holding[r.Event.ID]; ok || r.Event.Expired(now) {
					continue
				}
				if a.b.pending != nil && !slices.Contains(a.b.pending, r.Event.ID) {
					continue // over already
				}
				holding[r.Event.ID] = r.Event.ExpiresAt
				if !send(Notice{User: name, Online: true, Request: r}) {
					return ids(), false
				}
			}
			if !expire(name) {
				return ids(), false
			}
			continue
		case Offline(err):
			if !known || online {
				known, online = true, false
				if !send(Notice{User: name, Online: false, Err: err}) {
					return ids(), false
				}
			}
		case errors.Is(err, protocol.ErrDeviceRetired) || errors.Is(err, protocol.ErrUnauthorized) || errors.Is(err, vault.ErrNoUser) || errors.Is(err, ErrNotEnrolled):
			send(Notice{User: name, Online: true, Err: err})
			return ids(), !errors.Is(err, vault.ErrNoUser)
		default:
			known, online = true, true
			if !send(Notice{User: name, Online: true, Err: err}) {
				return ids(), false
			}
		}
		retry := time.After(pause)
	pausing:
		for {
			arm()
			select {
			case <-ctx.Done():
				return ids(), false
			case <-expiry.C:
				if !expire(name) {
					return ids(), false
				}
			case <-retry:
				break pausing
			}
		}
		pause = nextPause(pause)
	}
	return ids(), false
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
	// By device id, not by name: the user may have been renamed since.
	u, token, _, err := d.enrolledDevice(r.Event.DeviceID)
	if err != nil {
		return err
	}
	s, err := d.Vault.Unlock(u.Name, how, d.now())
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
	u, token, _, err := d.enrolledDevice(r.Event.DeviceID)
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
