// Package sqlrec is the statements and the row mapping of the store's
// records, shared by the SQL engines (sqlite, postgres): the same SQL,
// with the few differences of a [Dialect], over a [Conn] that each engine
// provides. Sealing at rest is here too, so that both engines seal the
// same values the same way.
package sqlrec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/internal/atrest"
	"ibkey/portal/store"
)

// Conn runs one statement. An engine adapts its transaction (or its
// connection, outside one) to it. A Row whose query found nothing scans
// to store.ErrNotFound.
type Conn interface {
	Exec(ctx context.Context, q string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) Row
}

// Rows are the rows of a query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the one row of a query.
type Row interface {
	Scan(dest ...any) error
}

// Dialect is what differs between the engines' SQL.
type Dialect struct {
	// Dollar numbers the placeholders ($1, $2, ...) in place of "?".
	Dollar bool
	// LockRows adds FOR UPDATE to the reads of rows a write transaction
	// changes (accounts, logins, enrollments).
	LockRows bool
	// Order is the column of insertion order ("rowid", "seq").
	Order string
	// LockOf is the FOR UPDATE of a read that joins logins (l) and
	// accounts (a) and holds both ("" when LockRows is false).
	LockOf string
	// Unique reports whether err is a unique constraint's refusal.
	Unique func(error) bool
	// Notify is the statement that tells other processes of a device's
	// event ("" when the engine has none).
	Notify string
	// Take is the token bucket's upsert: args key, burst, now
	// (nanoseconds), rate (tokens a nanosecond); a row back when a token
	// was taken.
	Take string

	mu sync.Mutex
	qs map[string]string
}

// Q is q in the dialect: its placeholders numbered when Dollar.
func (d *Dialect) Q(q string) string {
	if !d.Dollar {
		return q
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.qs == nil {
		d.qs = map[string]string{}
	}
	if r, ok := d.qs[q]; ok {
		return r
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	d.qs[q] = b.String()
	return d.qs[q]
}

// Tx is a store.Tx over a Conn.
type Tx struct {
	Ctx   context.Context
	C     Conn
	D     *Dialect
	Key   *atrest.Key
	Write bool // a read-write transaction: reads of changed rows lock them
}

var _ store.Tx = (*Tx)(nil)

func (t *Tx) exec(q string, args ...any) (int64, error) {
	return t.C.Exec(t.Ctx, t.D.Q(q), args...)
}

func (t *Tx) query(q string, args ...any) (Rows, error) {
	return t.C.Query(t.Ctx, t.D.Q(q), args...)
}

func (t *Tx) queryRow(q string, args ...any) Row {
	return t.C.QueryRow(t.Ctx, t.D.Q(q), args...)
}

// lock is the suffix of a read whose row the transaction changes.
func (t *Tx) lock() string {
	if t.Write && t.D.LockRows {
		return " FOR UPDATE"
	}
	return ""
}

func (t *Tx) unique(err error) bool { return err != nil && t.D.Unique(err) }

// What sealed values are, in their associated data.
const (
	KindSecret  = "device secret"   // row: the device id
	KindPINHash = "device pin hash" // row: the device id
	KindMeta    = "meta"            // row: the meta key
	KindSession = "portal session"  // row: the session key in hex
)

// MetaKeyID is the meta key of the master key's id.
const MetaKeyID = "key_id"

// SealedMeta lists the meta values kept sealed.
var SealedMeta = map[string]bool{"service_key": true, "portal_key": true}

// SealDevice seals a device's secret and PIN hash (nil stays nil).
func SealDevice(key *atrest.Key, id string, secret, pinHash []byte) ([]byte, []byte, error) {
	s, err := key.Seal(rand.Reader, KindSecret, id, secret)
	if err != nil {
		return nil, nil, err
	}
	var p []byte
	if pinHash != nil {
		if p, err = key.Seal(rand.Reader, KindPINHash, id, pinHash); err != nil {
			return nil, nil, err
		}
	}
	return s, p, nil
}

func openDevice(key *atrest.Key, d *store.Device) error {
	secret, err := key.Open(KindSecret, d.ID, d.Secret)
	if err != nil {
		return fmt.Errorf("store: secret of device %s: %w", d.ID, err)
	}
	d.Secret = secret
	if d.PINHash != nil {
		if d.PINHash, err = key.Open(KindPINHash, d.ID, d.PINHash); err != nil {
			return fmt.Errorf("store: PIN hash of device %s: %w", d.ID, err)
		}
	}
	return nil
}

// timeArgs converts the times of one statement, keeping the first error.
type timeArgs struct{ err error }

func (c *timeArgs) at(t time.Time) int64 {
	n, err := store.StoreTime(t)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n
}

func (t *Tx) Meta(key string) ([]byte, error) {
	var v []byte
	if err := t.queryRow("SELECT value FROM meta WHERE key = ?", key).Scan(&v); err != nil {
		return nil, err
	}
	if SealedMeta[key] {
		pt, err := t.Key.Open(KindMeta, key, v)
		if err != nil {
			return nil, fmt.Errorf("store: meta %s: %w", key, err)
		}
		return pt, nil
	}
	return v, nil
}

func (t *Tx) PutMeta(key string, value []byte) error {
	return t.putMeta(key, value, "DO UPDATE SET value = excluded.value")
}

func (t *Tx) InsertMeta(key string, value []byte) error {
	return t.putMeta(key, value, "DO NOTHING")
}

func (t *Tx) putMeta(key string, value []byte, conflict string) error {
	if key == MetaKeyID {
		return errors.New("store: the key id is not to be written")
	}
	if SealedMeta[key] {
		var err error
		if value, err = t.Key.Seal(rand.Reader, KindMeta, key, value); err != nil {
			return err
		}
	}
	n, err := t.exec("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) "+conflict, key, value)
	if err == nil && n == 0 {
		return store.ErrExists
	}
	return err
}

const accountCols = "username, account, phone, password, must_change, failures, locked_until, hard_lock, created"

// accountDest are the scan destinations of accountCols, and done sets the
// times once scanned.
func accountDest(a *store.Account) (dest []any, done func()) {
	var locked, created int64
	return []any{&a.Username, &a.Account, &a.Phone, &a.Password, &a.MustChange, &a.Lockout.Failures, &locked, &a.Lockout.Hard, &created}, func() {
		a.Lockout.LockedUntil, a.Created = store.LoadTime(locked), store.LoadTime(created)
	}
}

func scanAccount(sc Row) (store.Account, error) {
	var a store.Account
	dest, done := accountDest(&a)
	err := sc.Scan(dest...)
	done()
	return a, err
}

func (t *Tx) Account(username string) (store.Account, error) {
	return scanAccount(t.queryRow("SELECT "+accountCols+" FROM accounts WHERE username = ?"+t.lock(), username))
}

func (t *Tx) InsertAccount(a store.Account) error {
	if c, ok := protocol.CanonicalUsername(a.Username); !ok || c != a.Username {
		return fmt.Errorf("%w: %q", store.ErrBadUsername, a.Username)
	}
	var ta timeArgs
	args := []any{a.Username, a.Account, a.Phone, a.Password, a.MustChange, a.Lockout.Failures, ta.at(a.Lockout.LockedUntil), a.Lockout.Hard, ta.at(a.Created)}
	if ta.err != nil {
		return ta.err
	}
	// A taken account number is not an error of the statement: in
	// PostgreSQL that would end the transaction, and the caller is to
	// try another number in it.
	n, err := t.exec("INSERT INTO accounts("+accountCols+") VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(account) DO NOTHING", args...)
	switch {
	case t.unique(err):
		return store.ErrExists
	case err != nil:
		return err
	case n == 0:
		return store.ErrAccountTaken
	}
	return nil
}

func (t *Tx) UpdateAccount(a store.Account) error {
	var ta timeArgs
	args := []any{a.Phone, a.Password, a.MustChange, a.Lockout.Failures, ta.at(a.Lockout.LockedUntil), a.Lockout.Hard, a.Username}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("UPDATE accounts SET phone=?, password=?, must_change=?, failures=?, locked_until=?, hard_lock=? WHERE username=?", args...)
	return err
}

const enrollmentCols = "id, username, state, channel, code_hash, tries, sends, expires, last_sent, locator, channels"

func scanEnrollment(sc Row) (verifier.Enrollment, error) {
	var e verifier.Enrollment
	var expires, last int64
	var channels string
	err := sc.Scan(&e.ID, &e.Username, &e.State, &e.Channel, &e.CodeHash, &e.Tries, &e.Sends, &expires, &last, &e.Locator, &channels)
	e.ExpiresAt, e.LastSent = store.LoadTime(expires), store.LoadTime(last)
	if channels != "" {
		e.Channels = strings.Split(channels, ",")
	}
	return e, err
}

func (t *Tx) Enrollment(id string) (verifier.Enrollment, error) {
	return scanEnrollment(t.queryRow("SELECT "+enrollmentCols+" FROM enrollments WHERE id = ?"+t.lock(), id))
}

func (t *Tx) EnrollmentByLocator(locator string, now time.Time) (verifier.Enrollment, error) {
	if locator == "" {
		return verifier.Enrollment{}, store.ErrNotFound
	}
	n, err := store.StoreTime(now)
	if err != nil {
		return verifier.Enrollment{}, err
	}
	return scanEnrollment(t.queryRow("SELECT "+enrollmentCols+" FROM enrollments WHERE locator = ? AND state = ? AND expires > ? ORDER BY created DESC LIMIT 1"+t.lock(),
		locator, verifier.EnrollPending, n))
}

func (t *Tx) RecentEnrollments(username string, since time.Time, limit int) ([]verifier.Enrollment, error) {
	n, err := store.StoreTime(since)
	if err != nil {
		return nil, err
	}
	rows, err := t.query("SELECT "+enrollmentCols+" FROM enrollments WHERE username = ? AND created >= ? ORDER BY created DESC, "+t.D.Order+" DESC LIMIT ?",
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

func (t *Tx) InsertEnrollment(e verifier.Enrollment, created time.Time) error {
	var ta timeArgs
	args := []any{e.ID, e.Username, e.State, e.Channel, e.CodeHash, e.Tries, e.Sends, ta.at(e.ExpiresAt), ta.at(e.LastSent), e.Locator, strings.Join(e.Channels, ","), ta.at(created)}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO enrollments("+enrollmentCols+", created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", args...)
	if t.unique(err) {
		return store.ErrExists
	}
	return err
}

func (t *Tx) UpdateEnrollment(e verifier.Enrollment) error {
	var ta timeArgs
	args := []any{e.State, e.Channel, e.CodeHash, e.Tries, e.Sends, ta.at(e.ExpiresAt), ta.at(e.LastSent), strings.Join(e.Channels, ","), e.ID}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("UPDATE enrollments SET state=?, channel=?, code_hash=?, tries=?, sends=?, expires=?, last_sent=?, channels=? WHERE id=?", args...)
	return err
}

const deviceCols = "id, username, enrollment, state, suite, secret, pin_hash, channel_hash, delivery_key, confirm_challenge, created, expires, activated, retired"

// deviceDest are the scan destinations of deviceCols, and done sets the
// times once scanned.
func deviceDest(d *store.Device) (dest []any, done func()) {
	var created, expires, activated, retired int64
	return []any{&d.ID, &d.Username, &d.EnrollmentID, &d.State, &d.Suite, &d.Secret, &d.PINHash, &d.ChannelHash, &d.DeliveryKey, &d.ConfirmChallenge, &created, &expires, &activated, &retired}, func() {
		d.Created, d.Expires, d.Activated, d.Retired = store.LoadTime(created), store.LoadTime(expires), store.LoadTime(activated), store.LoadTime(retired)
	}
}

// scanDevice reads a device and opens its sealed fields.
func (t *Tx) scanDevice(sc Row) (store.Device, error) {
	var d store.Device
	dest, done := deviceDest(&d)
	if err := sc.Scan(dest...); err != nil {
		return store.Device{}, err
	}
	done()
	if err := openDevice(t.Key, &d); err != nil {
		return store.Device{}, err
	}
	return d, nil
}

func (t *Tx) Device(id string) (store.Device, error) {
	return t.scanDevice(t.queryRow("SELECT "+deviceCols+" FROM devices WHERE id = ?", id))
}

func (t *Tx) ActiveDevice(username string) (store.Device, error) {
	return t.scanDevice(t.queryRow("SELECT "+deviceCols+" FROM devices WHERE username = ? AND state = 'active' ORDER BY activated DESC LIMIT 1", username))
}

func (t *Tx) Devices(username string) ([]store.Device, error) {
	query := "SELECT " + deviceCols + " FROM devices"
	var args []any
	if username != "" {
		query += " WHERE username = ?"
		args = append(args, username)
	}
	rows, err := t.query(query+" ORDER BY username, created, "+t.D.Order, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Device
	for rows.Next() {
		d, err := t.scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t *Tx) InsertDevice(d store.Device) error {
	var ta timeArgs
	times := []any{ta.at(d.Created), ta.at(d.Expires), ta.at(d.Activated), ta.at(d.Retired)}
	if ta.err != nil {
		return ta.err
	}
	var err error
	if d.Secret, d.PINHash, err = SealDevice(t.Key, d.ID, d.Secret, d.PINHash); err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO devices("+deviceCols+") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{d.ID, d.Username, d.EnrollmentID, d.State, d.Suite, d.Secret, d.PINHash, d.ChannelHash, d.DeliveryKey, d.ConfirmChallenge}, times...)...)
	if t.unique(err) {
		return store.ErrExists
	}
	return err
}

func (t *Tx) UpdateDevice(d store.Device) error {
	var ta timeArgs
	args := []any{d.State, ta.at(d.Activated), ta.at(d.Retired), d.ID}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("UPDATE devices SET state=?, activated=?, retired=? WHERE id=?", args...)
	if t.unique(err) {
		return store.ErrExists // a second active device of the user
	}
	return err
}

const loginCols = "id, username, device_id, kind, challenge, push_challenge, number, payload, status, created, expires, app, ip, browser, reason, purpose"

// loginDest are the scan destinations of loginCols, and done sets the
// times once scanned.
func loginDest(l *store.Login) (dest []any, done func()) {
	var created, expires int64
	return []any{&l.ID, &l.Username, &l.DeviceID, &l.Kind, &l.Challenge, &l.PushChallenge, &l.Number, &l.Payload, &l.Status, &created, &expires, &l.App, &l.IP, &l.Browser, &l.Reason, &l.Purpose}, func() {
		l.Created, l.Expires = store.LoadTime(created), store.LoadTime(expires)
	}
}

func (t *Tx) Login(id string) (store.Login, error) {
	var l store.Login
	dest, done := loginDest(&l)
	err := t.queryRow("SELECT "+loginCols+" FROM logins WHERE id = ?"+t.lock(), id).Scan(dest...)
	done()
	return l, err
}

// prefixed is cols with each column prefixed by p.
func prefixed(p, cols string) string {
	fs := strings.Split(cols, ", ")
	for i := range fs {
		fs[i] = p + "." + fs[i]
	}
	return strings.Join(fs, ", ")
}

var loginAccountQuery = "SELECT " + prefixed("l", loginCols) + ", " + prefixed("a", accountCols) + ", " + prefixed("d", deviceCols) +
	" FROM logins l JOIN accounts a ON a.username = l.username JOIN devices d ON d.id = l.device_id WHERE l.id = ?"

func (t *Tx) LoginAccount(id string) (store.Login, store.Account, store.Device, error) {
	var l store.Login
	var a store.Account
	var d store.Device
	ld, ldone := loginDest(&l)
	ad, adone := accountDest(&a)
	dd, ddone := deviceDest(&d)
	q := loginAccountQuery
	if t.Write && t.D.LockRows {
		q += " " + t.D.LockOf
	}
	if err := t.queryRow(q, id).Scan(append(append(ld, ad...), dd...)...); err != nil {
		return store.Login{}, store.Account{}, store.Device{}, err
	}
	ldone()
	adone()
	ddone()
	if err := openDevice(t.Key, &d); err != nil {
		return store.Login{}, store.Account{}, store.Device{}, err
	}
	return l, a, d, nil
}

func (t *Tx) InsertLogin(l store.Login) error {
	var ta timeArgs
	args := []any{l.ID, l.Username, l.DeviceID, l.Kind, l.Challenge, l.PushChallenge, l.Number, l.Payload, l.Status, ta.at(l.Created), ta.at(l.Expires), l.App, l.IP, l.Browser, l.Reason, l.Purpose}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO logins("+loginCols+") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", args...)
	if t.unique(err) {
		return store.ErrExists
	}
	return err
}

func (t *Tx) UpdateLogin(l store.Login) error {
	n, err := t.exec("UPDATE logins SET status=?, reason=? WHERE id=? AND status='pending'", l.Status, l.Reason, l.ID)
	if err == nil && n == 0 {
		return store.ErrConflict
	}
	return err
}

func (t *Tx) PendingPush(username string, now time.Time) (int, error) {
	at, err := store.StoreTime(now)
	if err != nil {
		return 0, err
	}
	var n int
	err = t.queryRow("SELECT count(*) FROM logins WHERE username = ? AND status = 'pending' AND kind = 'login' AND payload IS NOT NULL AND expires > ?", username, at).Scan(&n)
	return n, err
}

func (t *Tx) PendingPushes(username string, now time.Time) ([]store.Login, error) {
	at, err := store.StoreTime(now)
	if err != nil {
		return nil, err
	}
	rows, err := t.query("SELECT "+loginCols+" FROM logins WHERE username = ? AND status = 'pending' AND expires > ? AND kind = 'login' AND payload IS NOT NULL ORDER BY created, id", username, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Login
	for rows.Next() {
		var l store.Login
		dest, done := loginDest(&l)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		done()
		out = append(out, l)
	}
	return out, rows.Err()
}

func (t *Tx) InsertEvent(e store.Event) (int64, error) {
	expires, err := store.StoreTime(e.Expires)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = t.queryRow("INSERT INTO events(device_id, kind, ref_id, payload, signature, expires) VALUES(?,?,?,?,?,?) RETURNING seq",
		e.DeviceID, e.Kind, e.RefID, e.Payload, e.Signature, expires).Scan(&seq)
	return seq, err
}

func (t *Tx) Events(deviceID string, after int64, now time.Time, limit int) ([]store.Event, error) {
	at, err := store.StoreTime(now)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(`SELECT e.seq, e.device_id, e.kind, e.ref_id, e.payload, e.signature, e.expires FROM events e
		WHERE e.device_id = ? AND e.seq > ? AND e.expires > ?
		AND (e.kind <> 'login' OR EXISTS (SELECT 1 FROM logins l WHERE l.id = e.ref_id AND l.status = 'pending'))
		AND (e.kind <> 'delivery' OR EXISTS (SELECT 1 FROM deliveries d WHERE d.id = e.ref_id AND d.delivered = 0))
		ORDER BY e.seq LIMIT ?`, deviceID, after, at, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var expires int64
		if err := rows.Scan(&e.Seq, &e.DeviceID, &e.Kind, &e.RefID, &e.Payload, &e.Signature, &expires); err != nil {
			return nil, err
		}
		e.Expires = store.LoadTime(expires)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *Tx) LastEvent(deviceID string) (int64, error) {
	var n int64
	err := t.queryRow("SELECT COALESCE(max(seq), 0) FROM events WHERE device_id = ?", deviceID).Scan(&n)
	return n, err
}

func (t *Tx) Notify(deviceID string) error {
	if t.D.Notify == "" {
		return nil
	}
	_, err := t.exec(t.D.Notify, deviceID)
	return err
}

func (t *Tx) InsertDelivery(d store.Delivery) error {
	var ta timeArgs
	args := []any{d.ID, d.DeviceID, d.Kind, d.Label, d.Sealed, ta.at(d.Created), ta.at(d.Delivered)}
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("INSERT INTO deliveries(id, device_id, kind, label, sealed, created, delivered) VALUES(?,?,?,?,?,?,?)", args...)
	if t.unique(err) {
		return store.ErrExists
	}
	return err
}

func (t *Tx) PendingDeliveries(deviceID string) ([]store.Delivery, error) {
	rows, err := t.query("SELECT id, device_id, kind, label, sealed, created FROM deliveries WHERE device_id = ? AND delivered = 0 ORDER BY created, id", deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		var created int64
		if err := rows.Scan(&d.ID, &d.DeviceID, &d.Kind, &d.Label, &d.Sealed, &created); err != nil {
			return nil, err
		}
		d.Created = store.LoadTime(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (t *Tx) MarkDelivered(id string, now time.Time) error {
	at, err := store.StoreTime(now)
	if err != nil {
		return err
	}
	if at == 0 {
		return fmt.Errorf("%w: a delivery needs the time it was delivered", store.ErrTimeRange)
	}
	_, err = t.exec("UPDATE deliveries SET delivered = ? WHERE id = ?", at, id)
	return err
}

func (t *Tx) InsertFraudReport(f store.FraudReport) error {
	at, err := store.StoreTime(f.Time)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO fraud_reports(login_id, username, device_id, ip, app, browser, time) VALUES(?,?,?,?,?,?,?)",
		f.LoginID, f.Username, f.DeviceID, f.IP, f.App, f.Browser, at)
	return err
}

func (t *Tx) FraudReports() ([]store.FraudReport, error) {
	rows, err := t.query("SELECT login_id, username, device_id, ip, app, browser, time FROM fraud_reports ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.FraudReport
	for rows.Next() {
		var f store.FraudReport
		var tm int64
		if err := rows.Scan(&f.LoginID, &f.Username, &f.DeviceID, &f.IP, &f.App, &f.Browser, &tm); err != nil {
			return nil, err
		}
		f.Time = store.LoadTime(tm)
		out = append(out, f)
	}
	return out, rows.Err()
}

// auditKeys are the JSON keys of the fields, which details may not use.
var auditKeys = map[string]bool{"time": true, "event": true, "username": true, "device": true, "ip": true, "outcome": true, "id": true, "level": true, "msg": true}

// EncodeDetail is an audit record's details as the store keeps them.
func EncodeDetail(d map[string]string) (string, error) {
	for k := range d {
		if auditKeys[k] || k == "" {
			return "", fmt.Errorf("store: audit detail key %q", k)
		}
	}
	if len(d) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(d)
	return string(b), err
}

func decodeDetail(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var d map[string]string
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return nil, fmt.Errorf("store: audit detail: %w", err)
	}
	return d, nil
}

func (t *Tx) InsertAudit(e store.AuditEvent) error {
	at, err := store.StoreTime(e.Time)
	if err != nil {
		return err
	}
	if at == 0 || e.Event == "" {
		return errors.New("store: an audit record needs a time and an event")
	}
	detail, err := EncodeDetail(e.Detail)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO audit(time, event, username, device, ip, outcome, detail) VALUES(?,?,?,?,?,?,?)",
		at, e.Event, e.Username, e.Device, e.IP, e.Outcome, detail)
	return err
}

func (t *Tx) Audit(f store.AuditFilter) ([]store.AuditEvent, error) {
	since, err := store.StoreTime(f.Since)
	if err != nil {
		return nil, err
	}
	if f.Since.IsZero() {
		since = math.MinInt64
	}
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = math.MaxInt64
	}
	q := "SELECT id, time, event, username, device, ip, outcome, detail FROM audit WHERE id > ? AND time >= ?"
	args := []any{f.After, since}
	if f.Username != "" {
		q += " AND username = ?"
		args = append(args, f.Username)
	}
	rows, err := t.query(q+" ORDER BY id LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Event, &e.Username, &e.Device, &e.IP, &e.Outcome, &detail); err != nil {
			return nil, err
		}
		e.Time = store.LoadTime(at)
		if e.Detail, err = decodeDetail(detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *Tx) InsertSend(x store.Send) error {
	at, err := store.StoreTime(x.Time)
	if err != nil {
		return err
	}
	if at == 0 {
		return errors.New("store: a send needs its time")
	}
	_, err = t.exec("INSERT INTO sends(time, username, phone, channel) VALUES(?,?,?,?)", at, x.Username, x.Phone, x.Channel)
	return err
}

func (t *Tx) CountSends(username, phone string, since time.Time) (int, int, error) {
	at, err := store.StoreTime(since)
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

func (t *Tx) PruneSends(before time.Time) error {
	at, err := store.StoreTime(before)
	if err != nil {
		return err
	}
	_, err = t.exec("DELETE FROM sends WHERE time < ?", at)
	return err
}

func sessionRow(key []byte) string { return hex.EncodeToString(key) }

func (t *Tx) Session(key []byte) (store.Session, error) {
	s := store.Session{Key: key}
	var created, seen int64
	err := t.queryRow("SELECT data, logged_in, created, seen FROM sessions WHERE key = ?", key).Scan(&s.Data, &s.LoggedIn, &created, &seen)
	if err != nil {
		return store.Session{}, err
	}
	s.Created, s.Seen = store.LoadTime(created), store.LoadTime(seen)
	if s.Data, err = t.Key.Open(KindSession, sessionRow(key), s.Data); err != nil {
		return store.Session{}, fmt.Errorf("store: session: %w", err)
	}
	return s, nil
}

func (t *Tx) sealSession(s store.Session) ([]any, error) {
	if len(s.Key) == 0 {
		return nil, errors.New("store: a session needs its key")
	}
	var ta timeArgs
	created, seen := ta.at(s.Created), ta.at(s.Seen)
	if ta.err != nil {
		return nil, ta.err
	}
	data, err := t.Key.Seal(rand.Reader, KindSession, sessionRow(s.Key), s.Data)
	if err != nil {
		return nil, err
	}
	return []any{data, s.LoggedIn, created, seen, s.Key}, nil
}

func (t *Tx) InsertSession(s store.Session) error {
	args, err := t.sealSession(s)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO sessions(data, logged_in, created, seen, key) VALUES(?,?,?,?,?)", args...)
	if t.unique(err) {
		return store.ErrExists
	}
	return err
}

func (t *Tx) UpdateSession(s store.Session) error {
	args, err := t.sealSession(s)
	if err != nil {
		return err
	}
	n, err := t.exec("UPDATE sessions SET data = ?, logged_in = ?, created = ?, seen = ? WHERE key = ?", args...)
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

func (t *Tx) TouchSession(key []byte, seen time.Time) error {
	at, err := store.StoreTime(seen)
	if err != nil {
		return err
	}
	_, err = t.exec("UPDATE sessions SET seen = ? WHERE key = ?", at, key)
	return err
}

func (t *Tx) DeleteSession(key []byte) error {
	_, err := t.exec("DELETE FROM sessions WHERE key = ?", key)
	return err
}

func (t *Tx) CountSessions(loggedIn bool) (int, error) {
	var n int
	err := t.queryRow("SELECT count(*) FROM sessions WHERE logged_in = ?", loggedIn).Scan(&n)
	return n, err
}

func (t *Tx) DropSessions(loggedIn bool, n int) error {
	if n <= 0 {
		return nil
	}
	_, err := t.exec("DELETE FROM sessions WHERE key IN (SELECT key FROM sessions WHERE logged_in = ? ORDER BY seen LIMIT ?)", loggedIn, n)
	return err
}

func (t *Tx) PruneSessions(idle, created time.Time) error {
	var ta timeArgs
	i, c := ta.at(idle), ta.at(created)
	if ta.err != nil {
		return ta.err
	}
	_, err := t.exec("DELETE FROM sessions WHERE seen < ? OR created < ?", i, c)
	return err
}

func (t *Tx) PruneBuckets(now time.Time) error {
	at, err := store.StoreTime(now)
	if err != nil {
		return err
	}
	_, err = t.exec("DELETE FROM buckets WHERE full_at < ?", at)
	return err
}

// MinRate is the slowest refill a bucket takes, in tokens a second (one
// token in about 12 days).
const MinRate = 1e-6

// Take is store.Store's Take over a Conn outside a transaction.
func Take(ctx context.Context, c Conn, d *Dialect, b store.Bucket, now time.Time) (store.Taken, error) {
	at, err := store.StoreTime(now)
	if err != nil {
		return store.Taken{}, err
	}
	if b.Key == "" || !(b.Rate > 0) || !(b.Burst >= 1) {
		return store.Taken{}, fmt.Errorf("store: bucket %q: rate %v, burst %v", b.Key, b.Rate, b.Burst)
	}
	perNano := max(b.Rate, MinRate) / 1e9
	if b.Burst/perNano > 1e18 {
		return store.Taken{}, fmt.Errorf("store: bucket %q refills too slowly (%v a second, burst %v)", b.Key, b.Rate, b.Burst)
	}
	var tokens float64
	err = c.QueryRow(ctx, d.Take, b.Key, b.Burst, at, perNano).Scan(&tokens)
	if err == nil {
		return store.Taken{OK: true}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.Taken{}, err
	}
	// Refused: report the first refusal in a minute.
	before := int64(math.MinInt64)
	if at > math.MinInt64+int64(time.Minute) {
		before = at - int64(time.Minute)
	}
	n, err := c.Exec(ctx, d.Q("UPDATE buckets SET reported = ? WHERE key = ? AND reported <= ?"), at, b.Key, before)
	if err != nil {
		return store.Taken{}, err
	}
	return store.Taken{Report: n == 1}, nil
}

// rekeyPage is how many rows Rekey reads at a time.
const rekeyPage = 1000

// Rekey seals every sealed value again, under to instead of from, and
// records to's id: the devices' secrets and PIN hashes, the sealed meta
// values and the portal's sessions. It runs in the caller's transaction:
// all of it or nothing.
func Rekey(t *Tx, from, to *atrest.Key) error {
	reseal := func(kind, row string, v []byte) ([]byte, error) {
		pt, err := from.Open(kind, row, v)
		if err != nil {
			return nil, fmt.Errorf("store: %s %s: %w", kind, row, err)
		}
		return to.Seal(rand.Reader, kind, row, pt)
	}
	for after := ""; ; {
		type dev struct {
			id              string
			secret, pinHash []byte
		}
		rows, err := t.query("SELECT id, secret, pin_hash FROM devices WHERE id > ? ORDER BY id LIMIT ?", after, rekeyPage)
		if err != nil {
			return err
		}
		var ds []dev
		for rows.Next() {
			var d dev
			if err := rows.Scan(&d.id, &d.secret, &d.pinHash); err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range ds {
			var err error
			if d.secret, err = reseal(KindSecret, d.id, d.secret); err != nil {
				return err
			}
			if d.pinHash != nil {
				if d.pinHash, err = reseal(KindPINHash, d.id, d.pinHash); err != nil {
					return err
				}
			}
			if _, err := t.exec("UPDATE devices SET secret = ?, pin_hash = ? WHERE id = ?", d.secret, d.pinHash, d.id); err != nil {
				return err
			}
		}
		if len(ds) < rekeyPage {
			break
		}
		after = ds[len(ds)-1].id
	}
	for name := range SealedMeta {
		var v []byte
		err := t.queryRow("SELECT value FROM meta WHERE key = ?", name).Scan(&v)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if v, err = reseal(KindMeta, name, v); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE meta SET value = ? WHERE key = ?", v, name); err != nil {
			return err
		}
	}
	for after := []byte{}; ; {
		type sess struct{ key, data []byte }
		rows, err := t.query("SELECT key, data FROM sessions WHERE key > ? ORDER BY key LIMIT ?", after, rekeyPage)
		if err != nil {
			return err
		}
		var ss []sess
		for rows.Next() {
			var s sess
			if err := rows.Scan(&s.key, &s.data); err != nil {
				rows.Close()
				return err
			}
			ss = append(ss, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, s := range ss {
			data, err := reseal(KindSession, sessionRow(s.key), s.data)
			if err != nil {
				return err
			}
			if _, err := t.exec("UPDATE sessions SET data = ? WHERE key = ?", data, s.key); err != nil {
				return err
			}
		}
		if len(ss) < rekeyPage {
			break
		}
		after = ss[len(ss)-1].key
	}
	n, err := t.exec("UPDATE meta SET value = ? WHERE key = ?", to.ID(), MetaKeyID)
	if err == nil && n != 1 {
		err = errors.New("store: the database holds no key id")
	}
	return err
}
