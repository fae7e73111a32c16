// Package postgres is the store of the IB Key service in a PostgreSQL
// database (github.com/jackc/pgx/v5, a pgxpool of connections): the engine
// for a service of several instances, which share everything that must
// hold across them through it.
//
// # Transactions
//
// Update runs at READ COMMITTED. The reads of the rows a transaction
// changes (an account, a login, an enrollment) take the row with SELECT
// ... FOR UPDATE, so that a read followed by a write is atomic across
// instances: of concurrent submissions of one response, one finds the
// challenge pending. A login's status moves from pending by a conditional
// update, and a partial unique index keeps one active device per user,
// so that the database refuses what a mistake in a transaction would
// allow. A transaction that fails on a serialization failure or a
// deadlock is run again, up to [MaxAttempts] times in all, after a short
// random wait. View runs at REPEATABLE READ, read only: one snapshot.
//
// # Several instances
//
// Migrations run in a transaction under an advisory lock, so that
// instances starting at once migrate once. Tx.Notify is pg_notify on the
// channel ibkey_device, delivered at commit; [Store.Listen] keeps a
// connection of its own on LISTEN (and reconnects), so that a device's
// long-poll on any instance wakes at once.
package postgres

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"ibkey/internal/atrest"
	"ibkey/portal/store"
	"ibkey/portal/store/internal/sqlrec"
)

// MaxAttempts is how many times Update runs a transaction that fails on a
// serialization failure or a deadlock.
const MaxAttempts = 8

// DefaultMaxConns is the pool's size when the URL does not say
// (pool_max_conns). A transaction here is a few short statements and a
// commit that waits for the disk: a connection is busy only while the
// database works or flushes for it. A few connections per core of the
// database keep it busy; more only make its processes take turns,
// holding locks as they wait. On 2 cores, 16 clients got more responses
// a second through 8 connections than through 4 or 16, with commits
// flushed or not (BenchmarkResponses in portal, docs/DEPLOY.md).
const DefaultMaxConns = 8

// channel is the LISTEN/NOTIFY channel of device wake-ups.
const channel = "ibkey_device"

// Store is a store.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	key  atomic.Pointer[atrest.Key]
	// retryWait is the longest wait before a transaction runs again.
	retryWait time.Duration
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Listener = (*Store)(nil)
)

var dialect = &sqlrec.Dialect{
	Dollar:   true,
	LockRows: true,
	LockOf:   "FOR UPDATE OF l, a",
	Order:    "seq",
	Unique:   isUnique,
	Notify:   "SELECT pg_notify('" + channel + "', ?)",
	Take: `INSERT INTO buckets AS b (key, tokens, updated, full_at)
		VALUES($1, $2::float8 - 1, $3::bigint, $3::bigint + (1 / $4::float8)::bigint)
		ON CONFLICT (key) DO UPDATE SET
			tokens = LEAST($2::float8, b.tokens + GREATEST(0, $3::bigint - b.updated) * $4::float8) - 1,
			updated = GREATEST(b.updated, $3::bigint),
			full_at = GREATEST(b.updated, $3::bigint) + (($2::float8 + 1 - LEAST($2::float8, b.tokens + GREATEST(0, $3::bigint - b.updated) * $4::float8)) / $4::float8)::bigint
		WHERE LEAST($2::float8, b.tokens + GREATEST(0, $3::bigint - b.updated) * $4::float8) >= 1
		RETURNING tokens`,
}

// IsURL reports whether name is a PostgreSQL URL (postgres:// or
// postgresql://) rather than a file.
func IsURL(name string) bool {
	return strings.HasPrefix(name, "postgres://") || strings.HasPrefix(name, "postgresql://")
}

// Open connects to the database at url (postgres://user@host:port/db?...)
// and migrates its schema to the newest version. key seals the secrets, as
// in every engine; a database sealed under another key is
// store.ErrWrongKey, and is left as it was.
func Open(ctx context.Context, url string, key *store.MasterKey) (*Store, error) {
	if key == nil {
		return nil, errors.New("postgres: Open needs a master key")
	}
	return open(ctx, url, store.FixedKey(key))
}

// OpenKeyFile opens the database at url as [Open] does, with the master
// key in keyFile, made on the first start (see store.OpenKeyFile): every
// instance of one service names the same key file (a copy of it). made
// says whether this call made it.
func OpenKeyFile(ctx context.Context, url, keyFile string) (st *Store, made bool, err error) {
	if keyFile == "" {
		return nil, false, errors.New("postgres: a PostgreSQL database needs its key file named (--key-file)")
	}
	s, made, err := store.OpenKeyFile(keyFile, func(kf store.KeyFor) (store.Store, error) {
		st, err := open(ctx, url, kf)
		if err != nil {
			return nil, err
		}
		return st, nil
	})
	if err != nil {
		return nil, false, err
	}
	return s.(*Store), made, nil
}

func open(ctx context.Context, url string, keyFor store.KeyFor) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, retryWait: 20 * time.Millisecond}
	if err := s.open(ctx, keyFor); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// open checks the key against the database before anything is written,
// migrates, and checks the key again (another instance may have sealed
// the database meanwhile).
func (s *Store) open(ctx context.Context, keyFor store.KeyFor) error {
	id, err := s.keyID(ctx)
	if err != nil {
		return err
	}
	mk, err := keyFor(id != nil)
	if err != nil {
		return err
	}
	if mk == nil {
		return errors.New("postgres: no master key")
	}
	s.key.Store(mk.AtRest())
	if id != nil && !hmac.Equal(id, mk.AtRest().ID()) {
		return store.ErrWrongKey
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if id, err = s.keyID(ctx); err != nil {
		return err
	}
	if !hmac.Equal(id, mk.AtRest().ID()) {
		return store.ErrWrongKey
	}
	return nil
}

// keyID returns the id of the key the database is sealed under, or nil
// when it has no schema yet.
func (s *Store) keyID(ctx context.Context) ([]byte, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('meta') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !exists {
		return nil, nil
	}
	var id []byte
	err := s.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", sqlrec.MetaKeyID).Scan(&id)
	if err != nil || len(id) == 0 {
		return nil, fmt.Errorf("postgres: the database is sealed but holds no key id: %w", notFound(err))
	}
	return id, nil
}

// Pool is the store's connection pool, for tools and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// retryable reports whether err ends a transaction that may run again: a
// serialization failure (40001) or a deadlock (40P01).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// Update runs fn in a read-write transaction at READ COMMITTED, and again
// (up to MaxAttempts in all) when it fails on a serialization failure or a
// deadlock.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.update(ctx, fn)
		if !retryable(err) || attempt == MaxAttempts {
			break
		}
		// A random wait, longer with each attempt, so that the
		// transactions that met do not meet again.
		wait := time.Duration(rand.Int64N(int64(s.retryWait) << min(attempt-1, 4)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	return err
}

func (s *Store) update(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	commit, out := store.Outcome(fn(&sqlrec.Tx{Ctx: ctx, C: conn{tx}, D: dialect, Key: s.key.Load(), Write: true}))
	if !commit {
		tx.Rollback(context.WithoutCancel(ctx))
		return out
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return out
}

// View runs fn in a read-only transaction at REPEATABLE READ.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	_, out := store.Outcome(fn(&sqlrec.Tx{Ctx: ctx, C: conn{tx}, D: dialect, Key: s.key.Load()}))
	return out
}

// Take takes a token of a bucket in one statement of its own.
func (s *Store) Take(ctx context.Context, b store.Bucket, now time.Time) (store.Taken, error) {
	return sqlrec.Take(ctx, conn{s.pool}, dialect, b, now)
}

// Listen calls fn with the device id of every notification on the
// channel until ctx ends, on a connection of its own; after a lost
// connection it connects again (waiting up to 5 s between tries) and calls
// fn("") once it listens again: notifications may have been missed.
func (s *Store) Listen(ctx context.Context, fn func(deviceID string)) error {
	wait := 100 * time.Millisecond
	for {
		err := s.listen(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen listens on one connection until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, fn func(string)) error {
	c, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	fn("")
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// conn is a sqlrec.Conn on a pool or a transaction.
type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqlrec.Rows, error) {
	return c.q.Query(ctx, q, args...)
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlrec.Row {
	return row{c.q.QueryRow(ctx, q, args...)}
}

type row struct{ r pgx.Row }

func (r row) Scan(dest ...any) error { return notFound(r.r.Scan(dest...)) }

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// isUnique reports whether err is a unique constraint's refusal (23505).
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Rekey seals every sealed value again under k, in one transaction, and
// goes on with k (store.Rekeyer). The other instances, still on the old
// key, no longer open the sealed values: stop them first.
func (s *Store) Rekey(ctx context.Context, k *store.MasterKey) error {
	if k == nil {
		return errors.New("postgres: no new master key")
	}
	from := s.key.Load()
	err := s.Update(ctx, func(tx store.Tx) error {
		// One rekey at a time, whichever instance runs it.
		if _, err := tx.(*sqlrec.Tx).C.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		return sqlrec.Rekey(tx.(*sqlrec.Tx), from, k.AtRest())
	})
	if err != nil {
		return err
	}
	s.key.Store(k.AtRest())
	return nil
}
