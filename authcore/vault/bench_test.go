package vault

import (
	"fmt"
	"testing"

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

// BenchmarkLoad reads and decrypts the vault file.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			v := benchVault(b, n)
			for b.Loop() {
				if _, err := v.load(); err != nil {
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
