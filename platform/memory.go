package platform

import (
	"bytes"
	"sync"
)

// memoryStore is a SecretStore in memory.
type memoryStore struct {
	mu      sync.Mutex
	secrets map[string][]byte
}

// NewMemoryStore returns an empty SecretStore held in memory, for tests. It is
// safe for concurrent use and copies secrets in and out.
func NewMemoryStore() SecretStore {
	return &memoryStore{secrets: make(map[string][]byte)}
}

func (s *memoryStore) Get(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, ok := s.secrets[name]
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(secret), nil
}

func (s *memoryStore) Set(name string, secret []byte) error {
	if err := checkSet(name, secret); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[name] = append([]byte{}, secret...)
	return nil
}

func (s *memoryStore) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, name)
	return nil
}
