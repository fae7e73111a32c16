package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/internal/atrest"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// sqliteStore is a Store in one SQLite file (WAL mode).
type sqliteStore struct {
	db      *sql.DB
	version int         // the schema version to migrate to; 0 is the newest
	key     *atrest.Key // seals the values listed in sealedMeta and the devices' secrets
	stmts   sync.Map    // query -> *sql.Stmt, prepared once on the one connection
	pending sync.Map    // queries first seen inside a transaction
}

// sealedVersion is the schema version from which secrets are sealed.
const sealedVersion = 3

// metaKeyID is the meta key of the master key's id.
const metaKeyID = "key_id"

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// migrates its schema to the newest version. path ":memory:" is a private
// in-memory database. The database runs in WAL mode with synchronous=NORMAL:
// a crash of the process loses no committed transaction.
//
// key seals the secrets in the database: the devices' OCRA secrets and
// card PIN hashes, and the service's identity key ([MasterKey]). The
// first open with a key seals the secrets of an older database in one
// transaction. A database sealed under another key is [ErrWrongKey], and
// is left as it was. [OpenSQLiteKeyFile] keeps the key in a file.
func OpenSQLite(path string, key *MasterKey) (Store, error) {
	if key == nil {
		return nil, errors.New("portal: OpenSQLite needs a master key")
	}
	return openSQLite(path, 0, func(bool) (*MasterKey, error) { return key, nil })
}

// openSQLite opens the database at path with the key that keyFor returns;
// keyFor learns whether the database holds sealed values already. version
// is the schema version to migrate to (0: the newest; tests make older
// databases with it).
func openSQLite(path string, version int, keyFor func(sealed bool) (*MasterKey, error)) (Store, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Zero what an update or a delete frees, so that no plaintext of a
	// value sealed in place (version 3) stays in the file's free space.
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	if path != ":memory:" {
		q.Add("_pragma", "journal_mode(WAL)")
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	if path != ":memory:" {
		// The database holds accounts, password hashes and the sealed
		// secrets: create it readable by its owner only (SQLite gives -wal
		// and -shm the same mode).
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("portal: open database: %w", err)
		}
		f.Close()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("portal: open database: %w", err)
	}
	// One connection: writers are serialised in the process, readers are
	// short, and an in-memory database stays one database.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	s := &sqliteStore{db: db, version: version}
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
		db.Close()
		return nil, err
	}
	return s, nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (5), "database is
// locked", in any of its extended forms.
func isBusy(err error) bool {
	var c interface{ Code() int }
	return errors.As(err, &c) && c.Code()&0xff == 5
}

// open checks the key against the database before anything is written,
// migrates, and checks the key again (another process may have sealed the
// database meanwhile).
func (s *sqliteStore) open(keyFor func(sealed bool) (*MasterKey, error)) error {
	id, err := s.keyID()
	if err != nil {
		return err
	}
	mk, err := keyFor(id != nil)
	if err != nil {
		return err
	}
	if mk == nil {
		return errors.New("portal: no master key")
	}
	s.key = mk.k
	if id != nil && !hmac.Equal(id, s.key.ID()) {
		return ErrWrongKey
	}
	if err := s.migrate(); err != nil {
		return err
	}
	wasSealed := id != nil
	if id, err = s.keyID(); err != nil {
		return err
	}
	if !hmac.Equal(id, s.key.ID()) {
		return ErrWrongKey
	}
	if !wasSealed {
		// The plaintext this open sealed may still be in old frames of
		// the write-ahead log: empty it.
		if _, err := s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return fmt.Errorf("portal: checkpoint: %w", err)
		}
	}
	return nil
}

// keyID returns the id of the key the database is sealed under, or nil
// when it is not sealed yet.
func (s *sqliteStore) keyID() ([]byte, error) {
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("portal: read schema version: %w", err)
	}
	if version < sealedVersion {
		return nil, nil
	}
	var id []byte
	err := s.db.QueryRow("SELECT value FROM meta WHERE key = ?", metaKeyID).Scan(&id)
	if err != nil || len(id) == 0 {
		return nil, fmt.Errorf("portal: the database is sealed but holds no key id: %w", notFound(err))
	}
	return id, nil
}

// goSteps are the migrations that need Go code besides their SQL: each
// runs after its version's SQL, in the same transaction.
var goSteps = map[int]func(*sql.Tx, *atrest.Key) error{
	sealedVersion: sealAtRest,
	6:             canonicalUsernames,
}

func (s *sqliteStore) migrate() error {
	files, err := fs.Glob(schemaFS, "schema/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	newest := len(files)
	if s.version > 0 && s.version < newest {
		newest = s.version
	}
	for {
		// Read the version in the write transaction: another process
		// may have migrated since.
		tx, err := s.db.Begin()
		if err != nil {
			return fmt.Errorf("portal: migrate: %w", err)
		}
		var version int
		if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
			tx.Rollback()
			return fmt.Errorf("portal: read schema version: %w", err)
		}
		if version > len(files) {
			tx.Rollback()
			return fmt.Errorf("portal: database schema version %d is newer than this program (%d)", version, len(files))
		}
		if version >= newest {
			return tx.Rollback()
		}
		if err := s.step(tx, files[version], version+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("portal: migrate to version %d: %w", version+1, err)
		}
	}
}

// step migrates to version n with the schema file name.
func (s *sqliteStore) step(tx *sql.Tx, name string, n int) error {
	v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "schema/"), "_", 2)[0])
	if err != nil || v != n {
		return fmt.Errorf("portal: schema file %s out of sequence", name)
	}
	body, err := schemaFS.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(string(body)); err != nil {
		return fmt.Errorf("portal: migrate to version %d: %w", n, err)
	}
	if f := goSteps[n]; f != nil {
		if err := f(tx, s.key); err != nil {
			return fmt.Errorf("portal: migrate to version %d: %w", n, err)
		}
	}
	if _, err := tx.Exec("PRAGMA user_version = " + strconv.Itoa(n)); err != nil {
		return fmt.Errorf("portal: migrate to version %d: %w", n, err)
	}
	return nil
}

// sealAtRest seals the plaintext secrets of a database of version 2 (the
// devices' secrets and PIN hashes, the sealed meta values) and records
// the key's id.
func sealAtRest(tx *sql.Tx, key *atrest.Key) error {
	type row struct {
		id              string
		secret, pinHash []byte
	}
	rows, err := tx.Query("SELECT id, secret, pin_hash FROM devices")
	if err != nil {
		return err
	}
	var ds []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.secret, &r.pinHash); err != nil {
			rows.Close()
			return err
		}
		ds = append(ds, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range ds {
		secret, pinHash, err := sealDevice(key, r.id, r.secret, r.pinHash)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE devices SET secret = ?, pin_hash = ? WHERE id = ?", secret, pinHash, r.id); err != nil {
			return err
		}
	}
	for name := range sealedMeta {
		var v []byte
		err := tx.QueryRow("SELECT value FROM meta WHERE key = ?", name).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return err
		}
		if v, err = key.Seal(rand.Reader, kindMeta, name, v); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE meta SET value = ? WHERE key = ?", v, name); err != nil {
			return err
		}
	}
	_, err = tx.Exec("INSERT INTO meta(key, value) VALUES(?, ?)", metaKeyID, key.ID())
	return err
}

// What sealed values are, in their associated data.
const (
	kindSecret  = "device secret"   // row: the device id
	kindPINHash = "device pin hash" // row: the device id
	kindMeta    = "meta"            // row: the meta key
)

// sealedMeta lists the meta values kept sealed.
var sealedMeta = map[string]bool{"service_key": true}

func sealDevice(key *atrest.Key, id string, secret, pinHash []byte) ([]byte, []byte, error) {
	s, err := key.Seal(rand.Reader, kindSecret, id, secret)
	if err != nil {
		return nil, nil, err
	}
	var p []byte
	if pinHash != nil {
		if p, err = key.Seal(rand.Reader, kindPINHash, id, pinHash); err != nil {
			return nil, nil, err
		}
	}
	return s, p, nil
}

func openDevice(key *atrest.Key, d *Device) error {
	secret, err := key.Open(kindSecret, d.ID, d.Secret)
	if err != nil {
		return fmt.Errorf("portal: secret of device %s: %w", d.ID, err)
	}
	d.Secret = secret
	if d.PINHash != nil {
		if d.PINHash, err = key.Open(kindPINHash, d.ID, d.PINHash); err != nil {
			return fmt.Errorf("portal: PIN hash of device %s: %w", d.ID, err)
		}
	}
	return nil
}

func (s *sqliteStore) Close() error {
	s.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	return s.db.Close()
}

func (s *sqliteStore) Update(ctx context.Context, fn func(Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("portal: begin: %w", err)
	}
	if err := fn(sqlTx{s, tx}); err != nil {
		tx.Rollback()
		s.preparePending()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("portal: commit: %w", err)
	}
	s.preparePending()
	return nil
}

func (s *sqliteStore) View(ctx context.Context, fn func(Tx) error) error {
	// A read needs no write lock: run the statements outside a transaction
	// on the one connection, one at a time.
	return fn(sqlTx{s, nil})
}

// sqlTx runs statements in tx, or outside a transaction when tx is nil.
// Statements are prepared once and reused: parsing SQL is most of the cost
// of a short transaction.
type sqlTx struct {
	s  *sqliteStore
	tx *sql.Tx
}

func (t sqlTx) stmt(q string) (*sql.Stmt, error) {
	if v, ok := t.s.stmts.Load(q); ok {
		if t.tx != nil {
			return t.tx.Stmt(v.(*sql.Stmt)), nil
		}
		return v.(*sql.Stmt), nil
	}
	if t.tx != nil {
		// The transaction holds the one connection: prepare in it for
		// now, and on the database once the transaction is over.
		t.s.pending.Store(q, true)
		return t.tx.Prepare(q)
	}
	st, err := t.s.db.Prepare(q)
	if err != nil {
		return nil, err
	}
	if v, loaded := t.s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// preparePending prepares on the database the statements first seen in a
// transaction.
func (s *sqliteStore) preparePending() {
	s.pending.Range(func(k, _ any) bool {
		q := k.(string)
		s.pending.Delete(q)
		if _, ok := s.stmts.Load(q); ok {
			return true
		}
		if st, err := s.db.Prepare(q); err == nil {
			if _, loaded := s.stmts.LoadOrStore(q, st); loaded {
				st.Close()
			}
		}
		return true
	})
}

func (t sqlTx) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Exec(args...)
}

func (t sqlTx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.Query(args...)
}

type scanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (t sqlTx) queryRow(q string, args ...any) scanner {
	st, err := t.stmt(q)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRow(args...)
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func (t sqlTx) Meta(key string) ([]byte, error) {
	var v []byte
	if err := t.queryRow("SELECT value FROM meta WHERE key = ?", key).Scan(&v); err != nil {
		return nil, notFound(err)
	}
	if sealedMeta[key] {
		pt, err := t.s.key.Open(kindMeta, key, v)
		if err != nil {
			return nil, fmt.Errorf("portal: meta %s: %w", key, err)
		}
		return pt, nil
	}
	return v, nil
}

func (t sqlTx) PutMeta(key string, value []byte) error {
	if key == metaKeyID {
		return errors.New("portal: the key id is not to be written")
	}
	if sealedMeta[key] {
		var err error
		if value, err = t.s.key.Seal(rand.Reader, kindMeta, key, value); err != nil {
			return err
		}
	}
	_, err := t.exec("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

const accountCols = "username, account, phone, password, must_change, failures, locked_until, hard_lock, created"

func scanAccount(sc interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var locked, created int64
	err := sc.Scan(&a.Username, &a.Account, &a.Phone, &a.Password, &a.MustChange, &a.Lockout.Failures, &locked, &a.Lockout.Hard, &created)
	a.Lockout.LockedUntil, a.Created = LoadTime(locked), LoadTime(created)
	return a, notFound(err)
}

func (t sqlTx) Account(username string) (Account, error) {
	return scanAccount(t.queryRow("SELECT "+accountCols+" FROM accounts WHERE username = ?", username))
}

func (t sqlTx) InsertAccount(a Account) error {
	if c, ok := protocol.CanonicalUsername(a.Username); !ok || c != a.Username {
		return fmt.Errorf("%w: %q is not in its canonical form", ErrBadUsername, a.Username)
	}
	var ta timeArgs
	args := []any{a.Username, a.Account, a.Phone, a.Password, a.MustChange, a.Lockout.Failures, ta.at(a.Lockout.LockedUntil), a.Lockout.Hard, ta.at(a.Created)}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO accounts("+accountCols+") VALUES(?,?,?,?,?,?,?,?,?)", args...)
	if isUnique(err) {
		return ErrExists
	}
	return err
}

func (t sqlTx) UpdateAccount(a Account) error {
	var ta timeArgs
	args := []any{a.Phone, a.Password, a.MustChange, a.Lockout.Failures, ta.at(a.Lockout.LockedUntil), a.Lockout.Hard, a.Username}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("UPDATE accounts SET phone=?, password=?, must_change=?, failures=?, locked_until=?, hard_lock=? WHERE username=?", args...)
	return err
}

func (t sqlTx) Accounts() ([]Account, error) {
	rows, err := t.query("SELECT " + accountCols + " FROM accounts ORDER BY username")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

const enrollmentCols = "id, username, state, channel, code_hash, tries, sends, expires, last_sent, locator, channels"

func scanEnrollment(sc scanner) (verifier.Enrollment, error) {
	var e verifier.Enrollment
	var expires, last int64
	var channels string
	err := sc.Scan(&e.ID, &e.Username, &e.State, &e.Channel, &e.CodeHash, &e.Tries, &e.Sends, &expires, &last, &e.Locator, &channels)
	e.ExpiresAt, e.LastSent = LoadTime(expires), LoadTime(last)
	if channels != "" {
		e.Channels = strings.Split(channels, ",")
	}
	return e, notFound(err)
}

func (t sqlTx) Enrollment(id string) (verifier.Enrollment, error) {
	return scanEnrollment(t.queryRow("SELECT "+enrollmentCols+" FROM enrollments WHERE id = ?", id))
}

func (t sqlTx) EnrollmentByLocator(locator string, now time.Time) (verifier.Enrollment, error) {
	if locator == "" {
		return verifier.Enrollment{}, ErrNotFound
	}
	n, err := StoreTime(now)
	if err != nil {
		return verifier.Enrollment{}, err
	}
	return scanEnrollment(t.queryRow("SELECT "+enrollmentCols+" FROM enrollments WHERE locator = ? AND state = ? AND expires > ? ORDER BY created DESC LIMIT 1",
		locator, verifier.EnrollPending, n))
}

func (t sqlTx) RecentEnrollments(username string, since time.Time, limit int) ([]verifier.Enrollment, error) {
	n, err := StoreTime(since)
	if err != nil {
		return nil, err
	}
	rows, err := t.query("SELECT "+enrollmentCols+" FROM enrollments WHERE username = ? AND created >= ? ORDER BY created DESC, rowid DESC LIMIT ?",
		username, n, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []verifier.Enrollment
	for rows.Next() {
		e, err := scanEnrollment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t sqlTx) InsertEnrollment(e verifier.Enrollment, created time.Time) error {
	var ta timeArgs
	args := []any{e.ID, e.Username, e.State, e.Channel, e.CodeHash, e.Tries, e.Sends, ta.at(e.ExpiresAt), ta.at(e.LastSent), e.Locator, strings.Join(e.Channels, ","), ta.at(created)}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO enrollments("+enrollmentCols+", created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", args...)
	return err
}

func (t sqlTx) UpdateEnrollment(e verifier.Enrollment) error {
	var ta timeArgs
	args := []any{e.State, e.Channel, e.CodeHash, e.Tries, e.Sends, ta.at(e.ExpiresAt), ta.at(e.LastSent), strings.Join(e.Channels, ","), e.ID}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("UPDATE enrollments SET state=?, channel=?, code_hash=?, tries=?, sends=?, expires=?, last_sent=?, channels=? WHERE id=?", args...)
	return err
}

const deviceCols = "id, username, enrollment, state, suite, secret, pin_hash, channel_hash, delivery_key, confirm_challenge, created, expires, activated, retired"

// scanDevice reads a device and opens its sealed fields.
func (t sqlTx) scanDevice(sc scanner) (Device, error) {
	var d Device
	var created, expires, activated, retired int64
	err := sc.Scan(&d.ID, &d.Username, &d.EnrollmentID, &d.State, &d.Suite, &d.Secret, &d.PINHash, &d.ChannelHash, &d.DeliveryKey, &d.ConfirmChallenge, &created, &expires, &activated, &retired)
	if err != nil {
		return Device{}, notFound(err)
	}
	d.Created, d.Expires, d.Activated, d.Retired = LoadTime(created), LoadTime(expires), LoadTime(activated), LoadTime(retired)
	if err := openDevice(t.s.key, &d); err != nil {
		return Device{}, err
	}
	return d, nil
}

func (t sqlTx) Device(id string) (Device, error) {
	return t.scanDevice(t.queryRow("SELECT "+deviceCols+" FROM devices WHERE id = ?", id))
}

func (t sqlTx) ActiveDevice(username string) (Device, error) {
	return t.scanDevice(t.queryRow("SELECT "+deviceCols+" FROM devices WHERE username = ? AND state = 'active' ORDER BY activated DESC LIMIT 1", username))
}

func (t sqlTx) Devices(username string) ([]Device, error) {
	query := "SELECT " + deviceCols + " FROM devices"
	var args []any
	if username != "" {
		query += " WHERE username = ?"
		args = append(args, username)
	}
	rows, err := t.query(query+" ORDER BY username, created, rowid", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := t.scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t sqlTx) InsertDevice(d Device) error {
	var ta timeArgs
	times := []any{ta.at(d.Created), ta.at(d.Expires), ta.at(d.Activated), ta.at(d.Retired)}
	if ta.err != nil {
		return ta.err
	}
	var err error
	if d.Secret, d.PINHash, err = sealDevice(t.s.key, d.ID, d.Secret, d.PINHash); err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO devices("+deviceCols+") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{d.ID, d.Username, d.EnrollmentID, d.State, d.Suite, d.Secret, d.PINHash, d.ChannelHash, d.DeliveryKey, d.ConfirmChallenge}, times...)...)
	if isUnique(err) {
		return ErrExists
	}
	return err
}

func (t sqlTx) UpdateDevice(d Device) error {
	var ta timeArgs
	args := []any{d.State, ta.at(d.Activated), ta.at(d.Retired), d.ID}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("UPDATE devices SET state=?, activated=?, retired=? WHERE id=?", args...)
	return err
}

const loginCols = "id, username, device_id, kind, challenge, push_challenge, number, payload, status, created, expires, app, ip, browser, reason, purpose"

func (t sqlTx) Login(id string) (Login, error) {
	var l Login
	var created, expires int64
	err := t.queryRow("SELECT "+loginCols+" FROM logins WHERE id = ?", id).Scan(&l.ID, &l.Username, &l.DeviceID, &l.Kind, &l.Challenge, &l.PushChallenge, &l.Number, &l.Payload, &l.Status, &created, &expires, &l.App, &l.IP, &l.Browser, &l.Reason, &l.Purpose)
	l.Created, l.Expires = LoadTime(created), LoadTime(expires)
	return l, notFound(err)
}

func (t sqlTx) InsertLogin(l Login) error {
	var ta timeArgs
	args := []any{l.ID, l.Username, l.DeviceID, l.Kind, l.Challenge, l.PushChallenge, l.Number, l.Payload, l.Status, ta.at(l.Created), ta.at(l.Expires), l.App, l.IP, l.Browser, l.Reason, l.Purpose}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO logins("+loginCols+") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", args...)
	return err
}

func (t sqlTx) UpdateLogin(l Login) error {
	_, err := t.exec("UPDATE logins SET status=?, reason=? WHERE id=?", l.Status, l.Reason, l.ID)
	return err
}

func (t sqlTx) PendingPush(username string, now time.Time) (int, error) {
	at, err := StoreTime(now)
	if err != nil {
		return 0, err
	}
	var n int
	err = t.queryRow("SELECT count(*) FROM logins WHERE username = ? AND status = 'pending' AND kind = 'login' AND payload IS NOT NULL AND expires > ?", username, at).Scan(&n)
	return n, err
}

func (t sqlTx) PendingPushes(username string, now time.Time) ([]Login, error) {
	at, err := StoreTime(now)
	if err != nil {
		return nil, err
	}
	rows, err := t.query("SELECT "+loginCols+" FROM logins WHERE username = ? AND status = 'pending' AND expires > ? AND kind = 'login' AND payload IS NOT NULL ORDER BY created", username, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Login
	for rows.Next() {
		var l Login
		var created, expires int64
		if err := rows.Scan(&l.ID, &l.Username, &l.DeviceID, &l.Kind, &l.Challenge, &l.PushChallenge, &l.Number, &l.Payload, &l.Status, &created, &expires, &l.App, &l.IP, &l.Browser, &l.Reason, &l.Purpose); err != nil {
			return nil, err
		}
		l.Created, l.Expires = LoadTime(created), LoadTime(expires)
		out = append(out, l)
	}
	return out, rows.Err()
}

func (t sqlTx) InsertEvent(e Event) (int64, error) {
	expires, err := StoreTime(e.Expires)
	if err != nil {
		return 0, err
	}
	r, err := t.exec("INSERT INTO events(device_id, kind, ref_id, payload, signature, expires) VALUES(?,?,?,?,?,?)",
		e.DeviceID, e.Kind, e.RefID, e.Payload, e.Signature, expires)
	if err != nil {
		return 0, err
	}
	return r.LastInsertId()
}

func (t sqlTx) Events(deviceID string, after int64, now time.Time, limit int) ([]Event, error) {
	at, err := StoreTime(now)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(`SELECT e.seq, e.device_id, e.kind, e.ref_id, e.payload, e.signature, e.expires FROM events e
		WHERE e.device_id = ? AND e.seq > ? AND e.expires > ?
		AND (e.kind != 'login' OR EXISTS (SELECT 1 FROM logins l WHERE l.id = e.ref_id AND l.status = 'pending'))
		AND (e.kind != 'delivery' OR EXISTS (SELECT 1 FROM deliveries d WHERE d.id = e.ref_id AND d.delivered = 0))
		ORDER BY e.seq LIMIT ?`, deviceID, after, at, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var expires int64
		if err := rows.Scan(&e.Seq, &e.DeviceID, &e.Kind, &e.RefID, &e.Payload, &e.Signature, &expires); err != nil {
			return nil, err
		}
		e.Expires = LoadTime(expires)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t sqlTx) LastEvent(deviceID string) (int64, error) {
	var n sql.NullInt64
	err := t.queryRow("SELECT max(seq) FROM events WHERE device_id = ?", deviceID).Scan(&n)
	return n.Int64, err
}

func (t sqlTx) InsertDelivery(d Delivery) error {
	var ta timeArgs
	args := []any{d.ID, d.DeviceID, d.Kind, d.Label, d.Sealed, ta.at(d.Created), ta.at(d.Delivered)}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO deliveries(id, device_id, kind, label, sealed, created, delivered) VALUES(?,?,?,?,?,?,?)", args...)
	return err
}

func (t sqlTx) PendingDeliveries(deviceID string) ([]Delivery, error) {
	rows, err := t.query("SELECT id, device_id, kind, label, sealed, created FROM deliveries WHERE device_id = ? AND delivered = 0 ORDER BY created", deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var created int64
		if err := rows.Scan(&d.ID, &d.DeviceID, &d.Kind, &d.Label, &d.Sealed, &created); err != nil {
			return nil, err
		}
		d.Created = LoadTime(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t sqlTx) MarkDelivered(id string, now time.Time) error {
	at, err := StoreTime(now)
	if err != nil {
		return err
	}
	if at == 0 {
		return fmt.Errorf("%w: a delivery needs the time it was delivered", ErrTimeRange)
	}
	_, err = t.exec("UPDATE deliveries SET delivered = ? WHERE id = ?", at, id)
	return err
}

func (t sqlTx) InsertFraudReport(f FraudReport) error {
	at, err := StoreTime(f.Time)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO fraud_reports(login_id, username, device_id, ip, app, browser, time) VALUES(?,?,?,?,?,?,?)",
		f.LoginID, f.Username, f.DeviceID, f.IP, f.App, f.Browser, at)
	return err
}

func (t sqlTx) FraudReports() ([]FraudReport, error) {
	rows, err := t.query("SELECT login_id, username, device_id, ip, app, browser, time FROM fraud_reports ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FraudReport
	for rows.Next() {
		var f FraudReport
		var tm int64
		if err := rows.Scan(&f.LoginID, &f.Username, &f.DeviceID, &f.IP, &f.App, &f.Browser, &tm); err != nil {
			return nil, err
		}
		f.Time = LoadTime(tm)
		out = append(out, f)
	}
	return out, rows.Err()
}

func (t sqlTx) InsertAudit(e AuditEvent) error {
	at, err := StoreTime(e.Time)
	if err != nil {
		return err
	}
	if at == 0 || e.Event == "" {
		return errors.New("portal: an audit record needs a time and an event")
	}
	detail, err := encodeDetail(e.Detail)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO audit(time, event, username, device, ip, outcome, detail) VALUES(?,?,?,?,?,?,?)",
		at, e.Event, e.Username, e.Device, e.IP, e.Outcome, detail)
	return err
}

func (t sqlTx) Audit(f AuditFilter) ([]AuditEvent, error) {
	since, err := StoreTime(f.Since)
	if err != nil {
		return nil, err
	}
	if f.Since.IsZero() {
		since = math.MinInt64
	}
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := t.query(`SELECT id, time, event, username, device, ip, outcome, detail FROM audit
		WHERE id > ? AND time >= ? AND (? = '' OR username = ?) ORDER BY id LIMIT ?`, f.After, since, f.Username, f.Username, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Event, &e.Username, &e.Device, &e.IP, &e.Outcome, &detail); err != nil {
			return nil, err
		}
		e.Time = LoadTime(at)
		if e.Detail, err = decodeDetail(detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t sqlTx) InsertSend(x Send) error {
	at, err := StoreTime(x.Time)
	if err != nil {
		return err
	}
	if at == 0 {
		return errors.New("portal: a send needs its time")
	}
	_, err = t.exec("INSERT INTO sends(time, username, phone, channel) VALUES(?,?,?,?)", at, x.Username, x.Phone, x.Channel)
	return err
}

func (t sqlTx) CountSends(username, phone string, since time.Time) (int, int, error) {
	at, err := StoreTime(since)
	if err != nil {
		return 0, 0, err
	}
	var u, p int
	if err := t.queryRow("SELECT count(*) FROM sends WHERE username = ? AND time >= ?", username, at).Scan(&u); err != nil {
		return 0, 0, err
	}
	if err := t.queryRow("SELECT count(*) FROM sends WHERE phone = ? AND time >= ?", phone, at).Scan(&p); err != nil {
		return 0, 0, err
	}
	return u, p, nil
}

func (t sqlTx) PruneSends(before time.Time) error {
	at, err := StoreTime(before)
	if err != nil {
		return err
	}
	_, err = t.exec("DELETE FROM sends WHERE time < ?", at)
	return err
}
