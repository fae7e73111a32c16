package atomicfile_test

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ibkey/internal/atomicfile"
	"ibkey/internal/storagetest"
)

// TestDirContract runs the storage seam's suite on the file system.
func TestDirContract(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	storagetest.Run(t, storagetest.Options{
		Open: func(t *testing.T, where string) storagetest.Storage {
			d, err := atomicfile.OpenDir(filepath.Join(root, where))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		Stamps: strings.Contains("linux android darwin ios freebsd netbsd", runtime.GOOS),
	})
}
