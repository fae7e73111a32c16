package core

import "sync"

// Notifier is told when a device has a new event. The service always wakes
// its own long-polls through a Hub; a Notifier in Config adds another way
// to reach the device (APNs, FCM).
type Notifier interface {
	Notify(deviceID string)
}

// Hub is the in-memory Notifier: long-polls of a device subscribe and are
// woken at once by Notify.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// NewHub returns an empty Hub.
func NewHub() *Hub { return &Hub{subs: make(map[string]map[chan struct{}]struct{})} }

// Subscribe returns a channel that receives after each Notify of deviceID,
// and a function that ends the subscription.
func (h *Hub) Subscribe(deviceID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	m := h.subs[deviceID]
	if m == nil {
		m = make(map[chan struct{}]struct{})
		h.subs[deviceID] = m
	}
	m[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(m, ch)
		if len(m) == 0 && h.subs[deviceID] != nil && len(h.subs[deviceID]) == 0 {
			delete(h.subs, deviceID)
		}
		h.mu.Unlock()
	}
}

// Notify wakes every subscriber of deviceID.
func (h *Hub) Notify(deviceID string) {
	h.mu.Lock()
	for ch := range h.subs[deviceID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

// NotifyAll wakes every subscriber: notifications from other processes
// may have been missed.
func (h *Hub) NotifyAll() {
	h.mu.Lock()
	for _, m := range h.subs {
		for ch := range m {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	h.mu.Unlock()
}
