//go:build linux || android

package atomicfile

import (
	"syscall"
	"time"
)

func times(st *syscall.Stat_t) (mtime, ctime time.Time) {
	return time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
}
