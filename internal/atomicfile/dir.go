package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Dir is a folder of small files, each read whole and replaced whole
// ([Write]), with exclusive locks that other processes respect (flock).
// It is the file system's side of the storage seam of the vault and the
// file store; the browser's side keeps the same files in IndexedDB.
type Dir struct {
	path string
	mu   sync.Mutex
	tidy map[string]bool
}

// OpenDir returns the folder path, made absolute, creating it (and its
// parents) with mode 0700 when it is missing.
func OpenDir(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("atomicfile: no folder")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	switch fi, err := os.Stat(abs); {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, err
		}
		os.Chmod(abs, 0o700) // MkdirAll's mode passes through the umask
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("atomicfile: %s is not a folder", abs)
	}
	return &Dir{path: abs, tidy: map[string]bool{}}, nil
}

// Path returns the folder's absolute path.
func (d *Dir) Path() string { return d.path }

// String returns the folder's path, for messages.
func (d *Dir) String() string { return d.path }

func (d *Dir) file(name string) (string, error) {
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return "", fmt.Errorf("atomicfile: bad file name %q", name)
	}
	return filepath.Join(d.path, name), nil
}

// Read returns the file called name and its stamp, as the package's
// [Read] does; an error matching fs.ErrNotExist when there is none.
func (d *Dir) Read(name string, limit int64, now time.Time) ([]byte, string, error) {
	p, err := d.file(name)
	if err != nil {
		return nil, "", err
	}
	return Read(p, limit, now)
}

// Stamp returns the stamp the file called name has now, as the package's
// [Stamp] does.
func (d *Dir) Stamp(name string) (string, error) {
	p, err := d.file(name)
	if err != nil {
		return "", err
	}
	return Stamp(p)
}

// Replace replaces the file called name with data, as [Write] does: mode
// 0600, a temporary file, fsync, rename, fsync of the folder. The first
// Replace of a name in this Dir removes the temporary files that writes
// cut short by a crash left: callers serialise the writes of one name (the
// vault holds its lock), so that none of them is another's live one.
func (d *Dir) Replace(name string, data []byte) error {
	p, err := d.file(name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	first := !d.tidy[name]
	d.tidy[name] = true
	d.mu.Unlock()
	if first {
		if old, _ := filepath.Glob(filepath.Join(d.path, "."+name+"-*.tmp")); old != nil {
			for _, f := range old {
				os.Remove(f)
			}
		}
	}
	return Write(p, data)
}

// TryLock takes the exclusive lock called name without waiting: a lock
// file of that name in the folder (mode 0600), locked with flock (or
// LockFileEx), which the kernel releases when the process dies. ok is
// false when another holder has it. Two handles of one process exclude
// each other too. Call unlock once to release it.
func (d *Dir) TryLock(name string) (unlock func(), ok bool, err error) {
	p, err := d.file(name)
	if err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	ok, err = tryLock(f)
	if err != nil || !ok {
		f.Close()
		return nil, false, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unlockFile(f)
			f.Close()
		})
	}, true, nil
}
