package vault

import (
	"fmt"
	"strings"
)

// PIN rules, as the real app has them: 4 to 6 characters, letters, digits
// and symbols (printable ASCII without space).
const (
	MinPIN = 4
	MaxPIN = 6
)

// blocklist holds PINs that are too easy to guess, on top of the ones
// made of one repeated character or of a run of consecutive characters
// (1234, 4321, abcd, 654321).
var blocklist = map[string]bool{
	"1212": true, "2580": true, "0852": true, "1004": true, "2000": true,
	"6969": true, "1122": true, "1313": true, "4444": true, "7777": true,
	"121212": true, "112233": true, "123123": true, "159753": true,
	"696969": true, "abc123": true, "qwerty": true, "pass": true,
	"1q2w3e": true,
}

// CheckPIN reports whether pin may be set as a user's PIN. The error wraps
// ErrBadPIN and says which rule failed.
func CheckPIN(pin string) error {
	if err := checkPINForm(pin); err != nil {
		return err
	}
	lower := strings.ToLower(pin)
	if blocklist[lower] || repeated(lower) || run(lower) {
		return fmt.Errorf("%w: too easy to guess", ErrBadPIN)
	}
	return nil
}

// checkPINForm checks length and characters only. Unlock uses it rather
// than CheckPIN, so that a change of the blocklist never locks a user out.
func checkPINForm(pin string) error {
	if len(pin) < MinPIN || len(pin) > MaxPIN {
		return fmt.Errorf("%w: must be %d to %d characters", ErrBadPIN, MinPIN, MaxPIN)
	}
	for i := 0; i < len(pin); i++ {
		if c := pin[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: only letters, digits and symbols", ErrBadPIN)
		}
	}
	return nil
}

func repeated(s string) bool {
	return strings.Count(s, s[:1]) == len(s)
}

// run reports whether s is a run of consecutive characters, up or down.
func run(s string) bool {
	up, down := true, true
	for i := 1; i < len(s); i++ {
		d := int(s[i]) - int(s[i-1])
		up = up && d == 1
		down = down && d == -1
	}
	return up || down
}
