//go:build darwin || ios || freebsd || netbsd

package atomicfile

import (
	"syscall"
	"time"
)

func times(st *syscall.Stat_t) (mtime, ctime time.Time) {
	return time.Unix(st.Mtimespec.Unix()), time.Unix(st.Ctimespec.Unix())
}
