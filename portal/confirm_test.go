package portal

import (
	"context"
	"crypto/rand"
	"testing"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
)

// activateOnly runs an enrollment up to the activation: the device that
// would confirm next, and its confirmation response.
func (h *harness) activateOnly(username, password string) (*device, string) {
	h.t.Helper()
	ctx := context.Background()
	enr, err := h.client.Enroll(ctx, protocol.EnrollRequest{Username: username, Password: password})
	if err != nil {
		h.t.Fatal(err)
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	del, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	req := protocol.ActivateRequest{Code: h.gw.last(h.t).Code, PublicKey: act.PublicKey().Bytes(), DeliveryKey: del.PublicKey().Bytes(), ChannelToken: token}
	a, err := h.client.Activate(ctx, enr.ID, req)
	if err != nil {
		h.t.Fatal(err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, req.PublicKey, a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		h.t.Fatal(err)
	}
	d := &device{id: a.DeviceID, token: token, secret: secret, suite: ocra.MustParseSuite(a.Suite), delivery: del, serviceKey: a.ServiceKey}
	return d, d.respond(h.t, a.ConfirmChallenge)
}

// A confirmation whose answer was lost is sent again: the service answers
// it as it did the first time, as long as that device is the active one,
// and changes nothing.
func TestConfirmIsIdempotent(t *testing.T) {
	h := newHarness(t)
	h.addUser("dan", "password1")
	ctx := context.Background()
	old := h.enroll("dan", "password1")
	d, confirm := h.activateOnly("dan", "password1")
	for i := range 3 {
		if err := h.client.Confirm(ctx, d.id, d.token, confirm); err != nil {
			t.Fatalf("confirm %d: %v", i+1, err)
		}
	}
	ds, _ := ListDevices(ctx, h.store, "dan")
	if len(ds) != 2 || ds[0].ID != old.id || ds[0].State != DeviceRetired || ds[1].State != DeviceActive {
		t.Fatalf("devices %+v", ds)
	}
	activated := ds[1].Activated
	// Even after the pending window: the device is active.
	h.clock.Add(h.srv.cfg.Limits.CodeTTL * 2)
	if err := h.client.Confirm(ctx, d.id, d.token, confirm); err != nil {
		t.Fatalf("confirm after the window: %v", err)
	}
	// A wrong response to a repeated confirm is refused and changes nothing.
	if err := h.client.Confirm(ctx, d.id, d.token, wrong(confirm)); apiCode(err) != protocol.CodeInvalidResponse {
		t.Fatalf("wrong repeated confirm: %v", err)
	}
	ds, _ = ListDevices(ctx, h.store, "dan")
	if ds[1].State != DeviceActive || !ds[1].Activated.Equal(activated) {
		t.Fatalf("a repeated confirm changed the device: %+v", ds[1])
	}
	l := h.login("dan", "password1")
	if code, eb := h.answer(l.ID, d.respond(t, l.Challenge)); code != 200 {
		t.Fatalf("the confirmed device: %d %+v", code, eb)
	}
	// Once another device is active, the old one's confirm is refused.
	h.enroll("dan", "password1")
	if err := h.client.Confirm(ctx, d.id, d.token, confirm); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("confirm of a replaced device: %v", err)
	}
	// The old device never comes back by a confirm.
	if err := h.client.Confirm(ctx, old.id, old.token, confirm); apiCode(err) != protocol.CodeDeviceRetired {
		t.Fatalf("confirm of the first device: %v", err)
	}
}
