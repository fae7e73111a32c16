package vault

import (
	"fmt"
	"testing"
	"time"

	"ibkey/authcore/ocra"
)

// BenchmarkUnlockRespond is one offline login: unlock with the PIN at the
// default Argon2id cost, then one response.
func BenchmarkUnlockRespond(b *testing.B) {
	v, _, _ := newTest(b)
	v.kdf = DefaultKDF
	mustAdd(b, v, pinUser("alice", "2468", secret32(1)))
	in := ocra.Input{Challenge: "123456"}
	b.ResetTimer()
	for b.Loop() {
		s, err := v.Unlock("alice", Unlock{PIN: "2468"}, testNow)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Respond(in); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

func benchVault(b *testing.B, n int) *Vault {
	v, _, _ := newTest(b)
	for i := range n {
		u := pinUser(fmt.Sprintf("user%03d", i), "2468", secret32(byte(i)))
		u.ChannelKey, u.DeliveryKey = secret32(1), secret32(2)
		mustAdd(b, v, u)
	}
	return v
}

// BenchmarkLoad reads and decrypts the vault file, as a Vault does when
// the file changed.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			v := benchVault(b, n)
			for b.Loop() {
				data, _, err := v.readFile()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := v.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSave is one locked read-modify-write (a rename), with its
// fsyncs.
func BenchmarkSave(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			v := benchVault(b, n)
			for b.Loop() {
				if err := v.Rename(fmt.Sprintf("user%03d", 0), fmt.Sprintf("user%03d", 0)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDevice is the vault's share of the device's two frequent calls,
// with 1 and 50 users on the device: respond (the user, then unlock and
// one response) and poll (the user and its channel keys, once per
// long-poll). The file is not written meanwhile. "settled" is the usual
// case: the file was last written more than a few seconds ago, and its
// stamp says it did not change. "fresh" is the few seconds after a write,
// when the file is read again and compared on every call.
func BenchmarkDevice(b *testing.B) {
	in := ocra.Input{Challenge: "123456"}
	for _, state := range []string{"settled", "fresh"} {
		for _, n := range []int{1, 50} {
			setup := func(b *testing.B) (*Vault, string) {
				v := benchVault(b, n)
				name := fmt.Sprintf("user%03d", n-1)
				respond(b, v, name, Unlock{PIN: "2468"}, "123456") // LastUsed written now
				if state == "settled" {
					v.clock = func() time.Time { return time.Now().Add(time.Minute) }
				}
				return v, name
			}
			b.Run(fmt.Sprintf("respond/%s/users=%d", state, n), func(b *testing.B) {
				v, name := setup(b)
				for b.Loop() {
					if _, err := v.User(name); err != nil {
						b.Fatal(err)
					}
					s, err := v.Unlock(name, Unlock{PIN: "2468"}, testNow)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Respond(in); err != nil {
						b.Fatal(err)
					}
					s.Close()
				}
			})
			b.Run(fmt.Sprintf("poll/%s/users=%d", state, n), func(b *testing.B) {
				v, name := setup(b)
				for b.Loop() {
					if _, err := v.User(name); err != nil {
						b.Fatal(err)
					}
					if _, _, err := v.Keys(name); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
