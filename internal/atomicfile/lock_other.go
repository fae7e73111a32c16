//go:build (!unix && !windows) || solaris || aix

package atomicfile

import (
	"os"
	"sync"
)

// Where the system has no file locks or syscall has no flock (js, wasip1,
// plan9, solaris, aix), a lock is held within this process only: two
// handles of one process exclude each other, two processes do not.
var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

func tryLock(f *os.File) (bool, error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[f.Name()] {
		return false, nil
	}
	held[f.Name()] = true
	return true, nil
}

func unlockFile(f *os.File) error {
	heldMu.Lock()
	defer heldMu.Unlock()
	delete(held, f.Name())
	return nil
}
