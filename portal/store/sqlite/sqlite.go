// Package sqlite is the store of the IB Key service in one SQLite file
// (modernc.org/sqlite, pure Go): the embedded default, for one machine.
//
// The database runs in WAL mode with synchronous=NORMAL (a killed process
// loses no committed transaction). Writes go through one connection, one
// transaction at a time (BEGIN IMMEDIATE): single use and one active device
// hold because writers are serialised, and the database keeps one active
// device per user besides. The writes waiting at once share one commit
// (group commit, batch.go). Reads go through a pool of read-only
// connections, each a snapshot, so that they never wait for a write.
//
// [OpenKeyFile] opens the database with its master key file; [Open] takes
// the key in hand.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver

	"ibkey/internal/atrest"
	"ibkey/portal/store"
	"ibkey/portal/store/internal/sqlrec"
)

// Readers is how many read connections a file database keeps.
const Readers = 4

// Store is a store.Store in one SQLite file.
type Store struct {
	w, r   *sql.DB // the writer (one connection), the readers (r == w in memory)
	ws, rs stmts
	wr     *writer // runs the writes, in groups (batch.go)
	key    atomic.Pointer[atrest.Key]
	// version is the schema version to migrate to; 0 is the newest.
	version int
}

var _ store.Store = (*Store)(nil)

var dialect = &sqlrec.Dialect{
	Order:  "rowid",
	Unique: isUnique,
	Take: `INSERT INTO buckets(key, tokens, updated, full_at) VALUES(?1, ?2 - 1, ?3, ?3 + CAST(1 / ?4 AS INTEGER))
		ON CONFLICT(key) DO UPDATE SET
			tokens = min(?2, tokens + max(0, ?3 - updated) * ?4) - 1,
			updated = max(updated, ?3),
			full_at = max(updated, ?3) + CAST((?2 + 1 - min(?2, tokens + max(0, ?3 - updated) * ?4)) / ?4 AS INTEGER)
		WHERE min(?2, tokens + max(0, ?3 - updated) * ?4) >= 1
		RETURNING tokens`,
}

// Open opens (creating it if needed) the SQLite database at path and
// migrates its schema to the newest version. path ":memory:" is a private
// in-memory database.
//
// key seals the secrets in the database: the devices' OCRA secrets and
// card PIN hashes, the service's identity key and the portal's sessions.
// The first open with a key seals the secrets of an older database in one
// transaction. A database sealed under another key is store.ErrWrongKey,
// and is left as it was. [OpenKeyFile] keeps the key in a file.
func Open(path string, key *store.MasterKey) (*Store, error) {
	if key == nil {
		return nil, errors.New("sqlite: Open needs a master key")
	}
	return open(path, 0, store.FixedKey(key))
}

// DefaultKeyFile is the key file of the database at path when none is
// named: beside it, with ".key" added.
func DefaultKeyFile(path string) string { return path + ".key" }

// OpenKeyFile opens the database at path as [Open] does, with the master
// key in keyFile ([DefaultKeyFile] of path when empty), made on the first
// start (see store.OpenKeyFile). made says whether this call made it.
func OpenKeyFile(path, keyFile string) (st *Store, made bool, err error) {
	if keyFile == "" {
		if path == ":memory:" {
			return nil, false, errors.New("sqlite: an in-memory database needs a key file named")
		}
		keyFile = DefaultKeyFile(path)
	}
	s, made, err := store.OpenKeyFile(keyFile, func(kf store.KeyFor) (store.Store, error) { return open(path, 0, kf) })
	if err != nil {
		return nil, false, err
	}
	return s.(*Store), made, nil
}

// OpenVersion opens the database at path with key, migrated only up to
// schema version n: an older service's database, for tests of the
// migrations.
func OpenVersion(path string, key *store.MasterKey, n int) (*Store, error) {
	return open(path, n, store.FixedKey(key))
}

func dsn(path string, q url.Values) string {
	if path == ":memory:" {
		return "file:" + path + "?" + q.Encode()
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// open opens the database at path with the key that keyFor returns;
// version is the schema version to migrate to (0: the newest).
func open(path string, version int, keyFor store.KeyFor) (*Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Zero what an update or a delete frees, so that no plaintext of a
	// value sealed in place (version 3) stays in the file's free space.
	q.Add("_pragma", "secure_delete(1)")
	// Keep up to 64 MiB of pages in each connection's cache. No memory
	// map: a reader that finds the database changed since its last read
	// drops its map whole, and unmapping a large file, then faulting its
	// pages in again, cost a login's start a third more in a store of a
	// million accounts than in one of a thousand (BenchmarkStoreSize in
	// portal); reads of the pages it needs cost the same at either size.
	q.Add("_pragma", "cache_size(-65536)")
	q.Add("_pragma", "mmap_size(0)")
	mem := path == ":memory:"
	if !mem {
		q.Add("_pragma", "journal_mode(WAL)")
		// The database holds accounts, password hashes and the sealed
		// secrets: create it readable by its owner only (SQLite gives -wal
		// and -shm the same mode).
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open database: %w", err)
		}
		f.Close()
	}
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", dsn(path, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open database: %w", err)
	}
	// One writer: write transactions are serialised in the process (and
	// an in-memory database stays one database).
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w, r: w, version: version}
	// Processes that open a new database at once race to turn on WAL, and
	// SQLite answers the losers SQLITE_BUSY without waiting: try again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = s.open(keyFor)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	if !mem {
		rq := url.Values{}
		for k, v := range q {
			rq[k] = v
		}
		rq.Add("_pragma", "query_only(1)")
		r, err := sql.Open("sqlite", dsn(path, rq))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open database: %w", err)
		}
		r.SetMaxOpenConns(Readers)
		r.SetMaxIdleConns(Readers)
		r.SetConnMaxLifetime(0)
		s.r = r
	}
	s.startWriter()
	return s, nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (5), "database is
// locked", in any of its extended forms.
func isBusy(err error) bool {
	var c interface{ Code() int }
	return errors.As(err, &c) && c.Code()&0xff == 5
}

// isUnique reports whether err is a unique constraint's refusal.
func isUnique(err error) bool {
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// DB is the writer's connection, for tools and tests (a backup with VACUUM
// INTO, a look at the raw rows).
func (s *Store) DB() *sql.DB { return s.w }

// Close closes the database once the writes under way are done.
func (s *Store) Close() error {
	s.stopWriter()
	s.ws.close()
	s.rs.close()
	err := s.w.Close()
	if s.r != s.w {
		if rerr := s.r.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// View runs fn in a read transaction on one of the readers: a snapshot
// that no write waits for, and that waits for no write.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	st := &s.rs
	if s.r == s.w {
		st = &s.ws
	}
	defer st.preparePending(s.r)
	defer tx.Rollback()
	_, out := store.Outcome(fn(&sqlrec.Tx{Ctx: ctx, C: txConn{tx, st}, D: dialect, Key: s.key.Load()}))
	return out
}

// Take takes a token of a bucket: a write like the others, which shares
// their commits (batch.go).
func (s *Store) Take(ctx context.Context, b store.Bucket, now time.Time) (store.Taken, error) {
	var got store.Taken
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		got, err = sqlrec.Take(ctx, tx.(*sqlrec.Tx).C, dialect, b, now)
		return err
	})
	return got, err
}

// stmts prepares each statement once on a database; transactions use it
// through sql.Tx.Stmt. Parsing SQL is most of the cost of a short
// transaction.
type stmts struct {
	m       sync.Map // query -> *sql.Stmt
	pending sync.Map // queries first seen in a transaction
}

func (c *stmts) get(ctx context.Context, db interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
}, q string) (*sql.Stmt, error) {
	if v, ok := c.m.Load(q); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if v, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// preparePending prepares on db the statements first seen in a
// transaction, once the transaction is over.
func (c *stmts) preparePending(db *sql.DB) {
	c.pending.Range(func(k, _ any) bool {
		q := k.(string)
		c.pending.Delete(q)
		c.get(context.Background(), db, q)
		return true
	})
}

func (c *stmts) close() {
	c.m.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
}

// txConn runs statements in a transaction, prepared on its database. A
// statement first seen in a transaction on the one writer connection is
// prepared in the transaction (the database's own Prepare would wait for
// the connection the transaction holds).
type txConn struct {
	tx *sql.Tx
	c  *stmts
}

func (t txConn) stmt(ctx context.Context, q string) (*sql.Stmt, bool, error) {
	if v, ok := t.c.m.Load(q); ok {
		return t.tx.StmtContext(ctx, v.(*sql.Stmt)), true, nil
	}
	t.c.pending.Store(q, true)
	st, err := t.tx.PrepareContext(ctx, q)
	return st, false, err
}

func (t txConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, _, err := t.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	r, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t txConn) Query(ctx context.Context, q string, args ...any) (sqlrec.Rows, error) {
	st, _, err := t.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (t txConn) QueryRow(ctx context.Context, q string, args ...any) sqlrec.Row {
	st, _, err := t.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	return sqlRow{st.QueryRowContext(ctx, args...)}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error { return notFound(r.r.Scan(dest...)) }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// Rekey seals every sealed value again under k, in one transaction, and
// goes on with k (store.Rekeyer).
func (s *Store) Rekey(ctx context.Context, k *store.MasterKey) error {
	if k == nil {
		return errors.New("sqlite: no new master key")
	}
	from := s.key.Load()
	err := s.Update(ctx, func(tx store.Tx) error { return sqlrec.Rekey(tx.(*sqlrec.Tx), from, k.AtRest()) })
	if err != nil {
		return err
	}
	s.key.Store(k.AtRest())
	// The values sealed under the old key may still be in old frames of
	// the write-ahead log: empty it.
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	return nil
}

// Backup writes a consistent copy of the database to the new file path
// (VACUUM INTO), while the service runs: the copy is sealed under the
// same master key, which is not in it.
func (s *Store) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqlite: backup: %s exists already", path)
	}
	if _, err := s.w.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return os.Chmod(path, 0o600)
}
