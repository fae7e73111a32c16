package main

import (
	"math"
)

// minImportKey is the shortest key users import takes without
// --accept-weak-key: 16 bytes, 128 bits.
const minImportKey = 16

// weakKey says why key does not look like a random key, or "". The rules
// are simple and documented (docs/SECURITY.md, "Imported keys"): a key is
// refused when it is shorter than 16 bytes, when every byte is printable
// ASCII (text or digits, such as the RFC test keys "3132..."), or when its
// bytes, counted, show less than half the entropy that as many random bytes
// show (the empirical Shannon entropy per byte against log2 of the number
// of bytes, at most 8): repeats and short patterns.
//
// Why it matters: a PIN user's key is sealed under the PIN with no check
// value, so that a copy of the vault cannot test PIN guesses; but if the
// key has structure, the one PIN that opens it to structured bytes stands
// out among the 10,000 candidates, and the seal is an offline PIN oracle.
func weakKey(key []byte) string {
	if len(key) < minImportKey {
		return "it is shorter than 16 bytes (128 bits)"
	}
	printable := true
	var count [256]int
	for _, b := range key {
		count[b]++
		if b < 0x20 || b > 0x7e {
			printable = false
		}
	}
	if printable {
		return "every byte is printable ASCII: it looks like text or digits, not random bytes"
	}
	var h float64
	for _, c := range count {
		if c > 0 {
			p := float64(c) / float64(len(key))
			h -= p * math.Log2(p)
		}
	}
	if most := math.Log2(float64(min(len(key), 256))); h < most/2 {
		return "its bytes repeat too much for random bytes (low entropy)"
	}
	return ""
}
