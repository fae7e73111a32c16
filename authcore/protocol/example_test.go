package protocol_test

import (
	"crypto/rand"
	"fmt"

	"ibkey/authcore/protocol"
)

// A temporary password sealed by the service to the device's delivery key
// opens only with that key and the same label.
func ExampleSeal() {
	device, _ := protocol.NewActivationKey(rand.Reader) // the device's delivery key
	label := "temp_password/0123/device-1"
	sealed, _ := protocol.Seal(rand.Reader, device.PublicKey().Bytes(), label, []byte("Tz8qM3rXw9Kp"))

	pw, err := protocol.Open(device.Bytes(), label, sealed)
	fmt.Println(string(pw), err)
	_, err = protocol.Open(device.Bytes(), "temp_password/0123/device-2", sealed)
	fmt.Println(err)
	// Output:
	// Tz8qM3rXw9Kp <nil>
	// protocol: sealed message cannot be opened
}

// Both sides of an activation derive the same OCRA secret from their own
// private key and the other's public key.
func ExampleDeriveSecret() {
	dev, _ := protocol.NewActivationKey(rand.Reader)
	svc, _ := protocol.NewActivationKey(rand.Reader)
	dp, sp := dev.PublicKey().Bytes(), svc.PublicKey().Bytes()
	a, _ := protocol.DeriveSecret(dev, sp, dp, sp, "enrollment-1", protocol.SuiteIBKey, "device-1")
	b, _ := protocol.DeriveSecret(svc, dp, dp, sp, "enrollment-1", protocol.SuiteIBKey, "device-1")
	fmt.Println(len(a), string(a) == string(b))
	// Output: 32 true
}
