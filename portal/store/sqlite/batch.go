package sqlite

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"ibkey/portal/store"
	"ibkey/portal/store/internal/sqlrec"
)

// Group commit. Writes are serialised on the one writer connection, and a
// commit writes each page it changed to the write-ahead log, a system call
// a page: under load, most of a write's time is spent waiting for the
// commits before it. So the writes that are waiting when the connection
// is free run together: one transaction, each write in a savepoint of its
// own (whose rollback undoes that write alone), one commit. Each write
// sees the ones before it, as it would in turn, and learns its outcome
// only once the group's commit is done: as durable as alone. With one
// write waiting, it runs alone, as before.

// maxGroup caps the writes of one commit.
const maxGroup = 64

// write is one Update waiting for the writer.
type write struct {
	ctx  context.Context
	fn   func(store.Tx) error
	out  error
	done chan struct{}
}

// writer runs the writes, in groups, until Close.
type writer struct {
	mu      sync.RWMutex // held to send, taken to close
	closed  bool
	queue   chan *write
	done    chan struct{}
	grouped atomic.Int64 // writes committed in groups of several
}

func (s *Store) startWriter() {
	s.wr = &writer{queue: make(chan *write, 1024), done: make(chan struct{})}
	go s.write()
}

func (s *Store) write() {
	defer close(s.wr.done)
	for w := range s.wr.queue {
		group := []*write{w}
	more:
		for len(group) < maxGroup {
			select {
			case w, ok := <-s.wr.queue:
				if !ok {
					break more
				}
				group = append(group, w)
			default:
				break more
			}
		}
		s.run(group)
	}
}

// stopWriter ends the writer once the writes sent are done.
func (s *Store) stopWriter() {
	s.wr.mu.Lock()
	if !s.wr.closed {
		s.wr.closed = true
		close(s.wr.queue)
	}
	s.wr.mu.Unlock()
	<-s.wr.done
}

// Update runs fn in a write transaction: its own, or one shared with the
// writes waiting beside it (group commit), in a savepoint of its own. fn
// must not call Update.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	w := &write{ctx: ctx, fn: fn, done: make(chan struct{})}
	s.wr.mu.RLock()
	if s.wr.closed {
		s.wr.mu.RUnlock()
		return store.ErrClosed
	}
	s.wr.queue <- w
	s.wr.mu.RUnlock()
	// Once sent, the write is waited for: it may commit.
	<-w.done
	return w.out
}

// run runs a group of writes.
func (s *Store) run(group []*write) {
	defer s.ws.preparePending(s.w)
	if len(group) == 1 {
		s.alone(group[0])
		return
	}
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		for _, w := range group {
			w.out = fmt.Errorf("sqlite: begin: %w", err)
			close(w.done)
		}
		return
	}
	c := txConn{tx, &s.ws}
	bg := context.Background()
	committed := make([]bool, len(group))
	broken := false
	for i, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.out = err
			continue
		}
		if _, err := c.Exec(bg, "SAVEPOINT w"); err != nil {
			broken = true
			break
		}
		// The write runs to its end whatever its context: SQLite rolls
		// the whole transaction back when a statement is interrupted.
		commit, out := store.Outcome(w.fn(&sqlrec.Tx{Ctx: context.WithoutCancel(w.ctx), C: c, D: dialect, Key: s.key.Load(), Write: true}))
		w.out = out
		if commit {
			_, err = c.Exec(bg, "RELEASE w")
		} else if _, err = c.Exec(bg, "ROLLBACK TO w"); err == nil {
			_, err = c.Exec(bg, "RELEASE w")
		}
		if err != nil {
			broken = true // SQLite ended the transaction (a full disk...)
			break
		}
		committed[i] = commit
	}
	if broken {
		// Each write again, alone: its own error is its own.
		tx.Rollback()
		for _, w := range group {
			w.out = nil
			if err := w.ctx.Err(); err != nil {
				w.out = err
				close(w.done)
				continue
			}
			s.alone(w)
		}
		return
	}
	if err := tx.Commit(); err != nil {
		for i, w := range group {
			if committed[i] {
				w.out = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	} else {
		s.wr.grouped.Add(int64(len(group)))
	}
	for _, w := range group {
		close(w.done)
	}
}

// alone runs one write in a transaction of its own.
func (s *Store) alone(w *write) {
	defer close(w.done)
	tx, err := s.w.BeginTx(w.ctx, nil)
	if err != nil {
		w.out = fmt.Errorf("sqlite: begin: %w", err)
		return
	}
	commit, out := store.Outcome(w.fn(&sqlrec.Tx{Ctx: w.ctx, C: txConn{tx, &s.ws}, D: dialect, Key: s.key.Load(), Write: true}))
	if !commit {
		tx.Rollback()
		w.out = out
		return
	}
	if err := tx.Commit(); err != nil {
		w.out = fmt.Errorf("sqlite: commit: %w", err)
		return
	}
	w.out = out
}
