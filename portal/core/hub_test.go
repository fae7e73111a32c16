package core

import "testing"

// TestHub: a notification reaches every subscriber of its device and no
// other; an ended subscription gets none, and the Hub forgets a device
// whose last subscription ended.
func TestHub(t *testing.T) {
	h := NewHub()
	a1, end1 := h.Subscribe("a")
	a2, end2 := h.Subscribe("a")
	b, endb := h.Subscribe("b")
	got := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	h.Notify("a")
	h.Notify("a") // a second wake-up while the first is unread: one
	if !got(a1) || !got(a2) || got(b) || got(a1) {
		t.Fatal("Notify(a)")
	}
	end1()
	h.Notify("a")
	if got(a1) || !got(a2) {
		t.Fatal("after the end of one subscription")
	}
	if len(h.subs) != 2 || len(h.subs["a"]) != 1 {
		t.Fatalf("subs %v", h.subs)
	}
	end2()
	if _, ok := h.subs["a"]; ok || len(h.subs) != 1 {
		t.Fatalf("a device without subscribers kept: %v", h.subs)
	}
	h.NotifyAll()
	if !got(b) {
		t.Fatal("NotifyAll")
	}
	endb()
	if len(h.subs) != 0 {
		t.Fatalf("subs %v", h.subs)
	}
}
