//go:build !(linux || android || darwin || ios || freebsd || netbsd)

package atomicfile

import (
	"io/fs"
	"time"
)

// stamp is "" where the system gives no change time (Windows, plan9, js,
// wasip1, ...): there a program can set a file's times back, so they cannot
// tell every change. Readers compare the content instead.
func stamp(fs.FileInfo) (string, time.Time) { return "", time.Time{} }
