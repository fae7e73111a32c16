package sqlite

import (
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/internal/atrest"
	"ibkey/portal/store"
	"ibkey/portal/store/internal/sqlrec"
)

// The schema is embedded (schema/NNN_*.sql) and applied in order, each
// version in a transaction of its own; the version is PRAGMA user_version.

//go:embed schema/*.sql
var schemaFS embed.FS

// Schema is the embedded schema, for tests that make older databases.
var Schema fs.FS = schemaFS

// sealedVersion is the schema version from which secrets are sealed.
const sealedVersion = 3

// open checks the key against the database before anything is written,
// migrates, and checks the key again (another process may have sealed the
// database meanwhile).
func (s *Store) open(keyFor store.KeyFor) error {
	id, err := s.keyID()
	if err != nil {
		return err
	}
	mk, err := keyFor(id != nil)
	if err != nil {
		return err
	}
	if mk == nil {
		return errors.New("sqlite: no master key")
	}
	s.key.Store(mk.AtRest())
	if id != nil && !hmac.Equal(id, mk.AtRest().ID()) {
		return store.ErrWrongKey
	}
	if err := s.migrate(); err != nil {
		return err
	}
	wasSealed := id != nil
	if id, err = s.keyID(); err != nil {
		return err
	}
	if !hmac.Equal(id, mk.AtRest().ID()) {
		return store.ErrWrongKey
	}
	if !wasSealed {
		// The plaintext this open sealed may still be in old frames of
		// the write-ahead log: empty it.
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return fmt.Errorf("sqlite: checkpoint: %w", err)
		}
	}
	return nil
}

// keyID returns the id of the key the database is sealed under, or nil
// when it is not sealed yet.
func (s *Store) keyID() ([]byte, error) {
	var version int
	if err := s.w.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return nil, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if version < sealedVersion {
		return nil, nil
	}
	var id []byte
	err := s.w.QueryRow("SELECT value FROM meta WHERE key = ?", sqlrec.MetaKeyID).Scan(&id)
	if err != nil || len(id) == 0 {
		return nil, fmt.Errorf("sqlite: the database is sealed but holds no key id: %w", notFound(err))
	}
	return id, nil
}

// goSteps are the migrations that need Go code besides their SQL: each
// runs after its version's SQL, in the same transaction.
var goSteps = map[int]func(*sql.Tx, *atrest.Key) error{
	sealedVersion: sealAtRest,
	6:             canonicalUsernames,
}

func (s *Store) migrate() error {
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
		tx, err := s.w.Begin()
		if err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		var version int
		if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: read schema version: %w", err)
		}
		if version > len(files) {
			tx.Rollback()
			return fmt.Errorf("sqlite: database schema version %d is newer than this program (%d)", version, len(files))
		}
		if version >= newest {
			return tx.Rollback()
		}
		if err := s.step(tx, files[version], version+1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migrate to version %d: %w", version+1, err)
		}
	}
}

// step migrates to version n with the schema file name.
func (s *Store) step(tx *sql.Tx, name string, n int) error {
	v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "schema/"), "_", 2)[0])
	if err != nil || v != n {
		return fmt.Errorf("sqlite: schema file %s out of sequence", name)
	}
	body, err := schemaFS.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(string(body)); err != nil {
		return fmt.Errorf("sqlite: migrate to version %d: %w", n, err)
	}
	if f := goSteps[n]; f != nil {
		if err := f(tx, s.key.Load()); err != nil {
			return fmt.Errorf("sqlite: migrate to version %d: %w", n, err)
		}
	}
	if _, err := tx.Exec("PRAGMA user_version = " + strconv.Itoa(n)); err != nil {
		return fmt.Errorf("sqlite: migrate to version %d: %w", n, err)
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
		secret, pinHash, err := sqlrec.SealDevice(key, r.id, r.secret, r.pinHash)
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE devices SET secret = ?, pin_hash = ? WHERE id = ?", secret, pinHash, r.id); err != nil {
			return err
		}
	}
	for name := range sqlrec.SealedMeta {
		var v []byte
		err := tx.QueryRow("SELECT value FROM meta WHERE key = ?", name).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return err
		}
		if v, err = key.Seal(rand.Reader, sqlrec.KindMeta, name, v); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE meta SET value = ? WHERE key = ?", v, name); err != nil {
			return err
		}
	}
	_, err = tx.Exec("INSERT INTO meta(key, value) VALUES(?, ?)", sqlrec.MetaKeyID, key.ID())
	return err
}

// caseVariantSuffix ends the name of an account that a migration refused
// because an older account differs from it only in case.
const caseVariantSuffix = "#case-variant"

// usernameTables are the tables that hold a username.
var usernameTables = []string{"accounts", "enrollments", "devices", "logins", "fraud_reports", "audit"}

// auditAccountRenamed is the audit event of a rename (core.AuditAccountRenamed).
const auditAccountRenamed = "account.renamed"

// canonicalUsernames is the Go step of schema version 6: see
// schema/006_usernames.sql.
func canonicalUsernames(tx *sql.Tx, _ *atrest.Key) error {
	type acct struct {
		name    string
		created int64
		rowid   int64
	}
	rows, err := tx.Query("SELECT username, created, rowid FROM accounts")
	if err != nil {
		return err
	}
	groups := map[string][]acct{}
	for rows.Next() {
		var a acct
		if err := rows.Scan(&a.name, &a.created, &a.rowid); err != nil {
			rows.Close()
			return err
		}
		c, ok := protocol.CanonicalUsername(a.name)
		if !ok {
			continue // not a username the service ever made: left as it is
		}
		groups[c] = append(groups[c], a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Foreign keys are checked at commit: an account and its rows are
	// renamed one table at a time.
	if _, err := tx.Exec("PRAGMA defer_foreign_keys = ON"); err != nil {
		return err
	}
	rename := func(from, to string) error {
		for _, table := range usernameTables {
			if _, err := tx.Exec("UPDATE "+table+" SET username = ? WHERE username = ?", to, from); err != nil {
				return fmt.Errorf("rename %q in %s: %w", from, table, err)
			}
		}
		return nil
	}
	now := time.Now().UnixNano()
	canons := make([]string, 0, len(groups))
	for c := range groups {
		canons = append(canons, c)
	}
	sort.Strings(canons)
	for _, c := range canons {
		g := groups[c]
		sort.Slice(g, func(i, j int) bool {
			if g[i].created != g[j].created {
				return g[i].created < g[j].created
			}
			return g[i].rowid < g[j].rowid
		})
		// The newer ones first, so that the name is free for the oldest.
		for _, a := range g[1:] {
			to := a.name + caseVariantSuffix
			if err := rename(a.name, to); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]string{"from": a.name, "kept": g[0].name, "reason": "an older account has this name in another case"})
			if _, err := tx.Exec("INSERT INTO audit(time, event, username, outcome, detail) VALUES(?,?,?,?,?)", now, auditAccountRenamed, to, "refused", string(detail)); err != nil {
				return err
			}
		}
		if g[0].name != c {
			if err := rename(g[0].name, c); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]string{"from": g[0].name})
			if _, err := tx.Exec("INSERT INTO audit(time, event, username, outcome, detail) VALUES(?,?,?,?,?)", now, auditAccountRenamed, c, "canonical", string(detail)); err != nil {
				return err
			}
		}
	}
	_, err = tx.Exec("CREATE UNIQUE INDEX accounts_username_case ON accounts(lower(username))")
	return err
}
