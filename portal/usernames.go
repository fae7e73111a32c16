package portal

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/internal/atrest"
)

// caseVariantSuffix ends the name of an account that a migration refused
// because an older account differs from it only in case.
const caseVariantSuffix = "#case-variant"

// usernameTables are the tables that hold a username.
var usernameTables = []string{"accounts", "enrollments", "devices", "logins", "fraud_reports", "audit"}

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
			if _, err := tx.Exec("INSERT INTO audit(time, event, username, outcome, detail) VALUES(?,?,?,?,?)", now, AuditAccountRenamed, to, "refused", string(detail)); err != nil {
				return err
			}
		}
		if g[0].name != c {
			if err := rename(g[0].name, c); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]string{"from": g[0].name})
			if _, err := tx.Exec("INSERT INTO audit(time, event, username, outcome, detail) VALUES(?,?,?,?,?)", now, AuditAccountRenamed, c, "canonical", string(detail)); err != nil {
				return err
			}
		}
	}
	_, err = tx.Exec("CREATE UNIQUE INDEX accounts_username_case ON accounts(lower(username))")
	return err
}
