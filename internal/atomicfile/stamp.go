package atomicfile

import (
	"io"
	"os"
	"time"
)

// settle is how old a file's times must be, when it is read, for its stamp
// to tell every later change: a write after the read gets times newer than
// the stamp's even where the file system keeps times in steps of up to 2 s
// (FAT) and the kernel stamps them from a coarse clock.
const settle = 3 * time.Second

// Read returns the content of path (at most limit bytes: a caller that
// must refuse a longer file passes one more than it accepts) and a stamp
// of it. start is the time now, before the file is opened.
//
// The stamp is a string that changes whenever path is replaced or written
// to: compare it with [Stamp]'s to learn, without reading, that path still
// holds what Read returned. It is "" when it cannot tell: the file changed
// less than a few seconds before start, too shortly for its times to tell
// a later change (read again to be sure), or the system gives no change
// time.
func Read(path string, limit int64, start time.Time) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	// The stamp is of the file before it is read: a write during the read
	// changes the file's times, so that Stamp differs afterwards.
	st, changed := stamp(fi)
	if changed.IsZero() || changed.After(start.Add(-settle)) {
		st = ""
	}
	n := min(fi.Size(), limit)
	if n < 0 {
		n = 0
	}
	data := make([]byte, 0, n+1) // +1: io.ReadAll sees the end without growing
	data, err = readAll(io.LimitReader(f, limit), data)
	if err != nil {
		return nil, "", err
	}
	return data, st, nil
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// Stamp returns the stamp that path has now: equal to the one [Read] gave
// (when that was not "") only if path has not changed since. It is "" where
// the system gives no change time.
func Stamp(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	st, _ := stamp(fi)
	return st, nil
}
