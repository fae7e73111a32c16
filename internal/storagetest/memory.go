package storagetest

import (
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"sync"
	"time"
)

// Memory is a Storage in memory, for tests: every Replace gives the file a
// new stamp, and Reads counts the reads. It is safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	files map[string][]byte
	gen   map[string]int
	locks map[string]bool
	next  int
	reads int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{files: map[string][]byte{}, gen: map[string]int{}, locks: map[string]bool{}}
}

func (m *Memory) Read(name string, limit int64, now time.Time) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	data, ok := m.files[name]
	if !ok {
		return nil, "", fmt.Errorf("storagetest: %s: %w", name, fs.ErrNotExist)
	}
	return bytes.Clone(data[:min(int64(len(data)), limit)]), strconv.Itoa(m.gen[name]), nil
}

func (m *Memory) Stamp(name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[name]; !ok {
		return "", fmt.Errorf("storagetest: %s: %w", name, fs.ErrNotExist)
	}
	return strconv.Itoa(m.gen[name]), nil
}

func (m *Memory) Replace(name string, data []byte) error {
	if name == "" || name == "." || name == ".." || bytes.ContainsAny([]byte(name), "/\\") {
		return fmt.Errorf("storagetest: bad file name %q", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	m.files[name], m.gen[name] = bytes.Clone(data), m.next
	return nil
}

func (m *Memory) TryLock(name string) (func(), bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[name] {
		return nil, false, nil
	}
	m.locks[name] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.locks, name)
			m.mu.Unlock()
		})
	}, true, nil
}

// Reads returns how many times the files were read.
func (m *Memory) Reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads
}
