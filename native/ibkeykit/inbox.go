package ibkeykit

import (
	core "ibkey/authcore/device"
	"ibkey/authcore/verifier"
)

// TempPasswordKind is the Kind of a temporary password for the Client
// Portal, set by the service's administrator.
const TempPasswordKind = verifier.TempPasswordKind

// Delivery is a message that the service sealed to this device, opened.
type Delivery struct {
	ID      string
	Kind    string // TempPasswordKind, or a kind a later service adds
	Text    string // a temporary password: show it, never log it
	Created int64  // Unix seconds
}

// Deliveries is what Inbox returned.
type Deliveries struct{ list []*Delivery }

// Len returns the number of deliveries.
func (l *Deliveries) Len() int { return len(l.list) }

// Get returns the i-th delivery, or nil when i is out of range.
func (l *Deliveries) Get(i int) *Delivery {
	if i < 0 || i >= len(l.list) {
		return nil
	}
	return l.list[i]
}

// Inbox opens the deliveries sealed to this device for the user called
// name (temporary passwords). The unlock is proved to the service first,
// with a response it counts toward the lockout: a wrong PIN is
// CodeWrongPIN and opens nothing. The service releases each delivery
// once; those opened by a call that then failed come with the next call.
func (v *Vault) Inbox(name string, how *Unlock) (*Deliveries, error) {
	ctx, err := v.context()
	if err != nil {
		return nil, err
	}
	u, err := how.vault()
	if err != nil {
		return nil, err
	}
	ds, err := v.d.Inbox(ctx, name, u)
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, d := range ds {
		v.released[name] = append(v.released[name], toDelivery(d))
	}
	if err != nil {
		return nil, wrap(err)
	}
	out := &Deliveries{list: v.released[name]}
	delete(v.released, name)
	return out, nil
}

func toDelivery(d core.Delivery) *Delivery {
	return &Delivery{ID: d.ID, Kind: d.Kind, Text: string(d.Text), Created: unix(d.Created)}
}
