//go:build linux || android || darwin || ios || freebsd || netbsd

package atomicfile

import (
	"encoding/binary"
	"io/fs"
	"syscall"
	"time"
)

// stamp is the file's device, inode, size, modification and change times,
// and the later of the two times. The change time moves on every write,
// rename or change of times (a program that sets the modification time
// back moves it forward), and no program can set it.
func stamp(fi fs.FileInfo) (string, time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", time.Time{}
	}
	mtime, ctime := times(st)
	b := make([]byte, 0, 40)
	b = binary.BigEndian.AppendUint64(b, uint64(st.Dev))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Ino))
	b = binary.BigEndian.AppendUint64(b, uint64(st.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(mtime.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(ctime.UnixNano()))
	if mtime.After(ctime) {
		ctime = mtime
	}
	return string(b), ctime
}
