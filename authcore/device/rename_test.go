package device

import (
	"context"
	"sync"
	"testing"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/vault"
	"ibkey/internal/storagetest"
)

// renamingStorage is a vault's storage that cannot tell a change by stamp
// (so that every read of the vault reads the file) and runs hook just
// before the read numbered at after it is armed.
type renamingStorage struct {
	*storagetest.Memory
	mu    sync.Mutex
	count int // reads to go before hook; 0: disarmed
	hook  func()
}

func (s *renamingStorage) Read(name string, limit int64, now time.Time) ([]byte, string, error) {
	s.mu.Lock()
	fire := false
	if s.count > 0 {
		s.count--
		fire = s.count == 0
	}
	s.mu.Unlock()
	if fire {
		s.hook()
	}
	data, _, err := s.Memory.Read(name, limit, now)
	return data, "", err
}

func (s *renamingStorage) Stamp(string) (string, error) { return "", nil }

// TestRenameBetweenReads: a user renamed by another process between the
// two reads that find it by device id (the list, then the user) is found
// under its new name: a denial goes through.
func TestRenameBetweenReads(t *testing.T) {
	t.Parallel()
	f, ts := newFakeService(t)
	mem := storagetest.NewMemory()
	st := &renamingStorage{Memory: mem}
	secrets := &memSecrets{}
	v, err := vault.OpenStorage(st, secrets, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := &Device{Vault: v, Now: func() time.Time { return now }, Client: func(base string) *protocol.Client {
		return &protocol.Client{BaseURL: base, HTTP: ts.Client()}
	}}
	ctx := context.Background()
	if _, err := d.Activate(ctx, ts.URL, fakeEnroll, fakeCode, "alice", Protection{PIN: "2468"}); err != nil {
		t.Fatal(err)
	}
	f.login("l1", []int{12, 57, 89}, now.Add(time.Minute))
	reqs, _, err := d.Poll(ctx, "alice", 0, time.Second)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("Poll: %+v, %v", reqs, err)
	}
	other, err := vault.OpenStorage(mem, secrets, nil) // another process
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.count, st.hook = 2, func() {
		if err := other.Rename("alice", "alicia"); err != nil {
			t.Error(err)
		}
	}
	st.mu.Unlock()
	if err := d.Deny(ctx, reqs[0], protocol.DenyMistake); err != nil {
		t.Fatalf("Deny across a rename: %v", err)
	}
	if st.count != 0 {
		t.Fatal("the rename did not come between the reads")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.approved); n != 1 || f.approved[0].Deny != protocol.DenyMistake {
		t.Errorf("the service got %+v", f.approved)
	}
}
