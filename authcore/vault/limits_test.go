package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestUserLimit: the vault reads at most 1000 users (a file with more is
// refused as damaged), so Add takes the 1000th user and refuses the
// 1001st, and the file still reads.
func TestUserLimit(t *testing.T) {
	t.Parallel()
	v, store, _ := newTest(t)
	mustAdd(t, v, pinUser("u0000", "2468", secret32(1)))
	// 998 more at once, as copies of the first under other names.
	err := v.update(func(b *body) error {
		for i := 1; i <= 998; i++ {
			r := b.Users[0]
			r.ID = make([]byte, idSize)
			rand.Read(r.ID)
			r.Name = fmt.Sprintf("u%04d", i)
			b.Users = append(b.Users, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, v, pinUser("u0999", "2468", secret32(2)))
	if err := v.Add(pinUser("u1000", "2468", secret32(3)), rand.Reader, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("the 1001st user: %v, want ErrInvalid", err)
	}
	v2 := openTest(t, v.dir, store, nil)
	users, err := v2.List()
	if err != nil {
		t.Fatalf("the vault with 1000 users no longer reads: %v", err)
	}
	if len(users) != 1000 || users[999].Name != "u0999" {
		t.Errorf("%d users, the last %q", len(users), users[len(users)-1].Name)
	}
	// A file of 1001 users, written by other means, is refused.
	b, err := v2.load()
	if err != nil {
		t.Fatal(err)
	}
	big := &body{PepperID: b.PepperID, Users: append(slices.Clone(b.Users), b.Users[0])}
	big.Users[1000].ID, big.Users[1000].Name = make([]byte, idSize), "u1000"
	data, err := encodeFile(big, v2.key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFile(data, v2.key); !errors.Is(err, ErrDamaged) {
		t.Errorf("a file of 1001 users: %v, want ErrDamaged", err)
	}
}
