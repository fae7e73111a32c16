package storagetest

import (
	"sync"
	"testing"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	places := map[string]*Memory{}
	Run(t, Options{
		Open: func(t *testing.T, where string) Storage {
			mu.Lock()
			defer mu.Unlock()
			if places[where] == nil {
				places[where] = NewMemory()
			}
			return places[where]
		},
		Stamps: true,
	})
}
