package store

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Times in the store are int64 Unix nanoseconds, the zero time.Time as 0.
// The representation holds every instant from 1677-09-21T00:12:43.145224192Z
// to 2262-04-11T23:47:16.854775807Z, at nanosecond precision, except the
// Unix epoch itself (whose 0 means "none"). A time outside it is refused
// with ErrTimeRange before anything is written: never wrapped, never
// rounded. Every engine keeps times this way (an INTEGER in SQLite, a
// BIGINT in PostgreSQL), through StoreTime and LoadTime.

// ErrTimeRange is the error of a write whose time the store cannot hold.
var ErrTimeRange = errors.New("store: time out of the store's range")

var (
	minStoreTime = time.Unix(0, math.MinInt64).UTC()
	maxStoreTime = time.Unix(0, math.MaxInt64).UTC()
)

// StoreTime is t as the store keeps it.
func StoreTime(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.Before(minStoreTime) || t.After(maxStoreTime) {
		return 0, fmt.Errorf("%w: %s is outside %s to %s", ErrTimeRange, t.UTC().Format(time.RFC3339Nano),
			minStoreTime.Format(time.RFC3339Nano), maxStoreTime.Format(time.RFC3339Nano))
	}
	n := t.UnixNano()
	if n == 0 {
		return 0, fmt.Errorf("%w: 1970-01-01T00:00:00Z is the store's empty time", ErrTimeRange)
	}
	return n, nil
}

// LoadTime is the time the store keeps as n, in UTC.
func LoadTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
