// Package atomicfile replaces a file so that a crash leaves either the old
// content or the new, never a mix: the vault and the file store of secrets
// both write this way. [Create] makes a file that must not exist yet (the
// service's master key) the same way, and never replaces one.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write replaces path with data, mode 0600: a temporary file in path's
// folder, fsync, rename over path, fsync of the folder.
func Write(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Create makes path with data, mode 0600, only if path does not exist: a
// temporary file in path's folder, fsync, hard link to path, fsync of the
// folder. When path exists (another process made it first) the error
// matches [fs.ErrExist] and path is left as it is. A crash leaves no path
// or the whole of it, never a part. On a file system without hard links
// the file is made with O_EXCL instead: still never replaced, but a crash
// could leave it short.
func Create(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := createExcl(path, data); err != nil {
			return err
		}
	}
	return syncDir(filepath.Dir(path))
}

func createExcl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// writeTemp writes data to a new temporary file, mode 0600, in path's
// folder, synced and closed, and returns its name.
func writeTemp(path string, data []byte) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a folder;
// there the rename is left to the file system's journal.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
