//go:build (!unix && !windows) || solaris || aix

package vault

import "os"

// tryLock is a no-op where the system has no file locks or syscall has no
// flock (js, wasip1, plan9, solaris, aix): there the vault is safe within
// one process only, through the Vault's mutex.
func tryLock(f *os.File) (bool, error) { return true, nil }

func unlock(f *os.File) error { return nil }
