package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/portal/core"
	"ibkey/portal/store"
)

func init() {
	commands["admin"] = command{
		"admin useradd|unlock|devices|temp-password|fraud-reports|audit|rekey|backup --db FILE|postgres://... [--key-file FILE] [--username U] [--phone +CC...] [--since TIME] [--new-key-file FILE] [--to FILE]",
		cmdAdmin,
	}
}

func cmdAdmin(e *env, args []string) error {
	var made string
	err := admin(e, args, &made)
	if err == nil && made != "" {
		fmt.Fprintf(e.stderr, "ibkey: made the service's master key %s: back it up apart from the database\n", made)
	}
	return err
}

// admin runs an admin command, and sets made to the master key file when
// it made one.
func admin(e *env, args []string, made *string) error {
	if len(args) == 0 {
		return usagef("admin: want useradd, unlock, devices, temp-password, fraud-reports, audit, rekey or backup")
	}
	sub, args := args[0], args[1:]
	fs := flags("admin " + sub)
	dbPath := dbFlag(fs)
	keyFile := keyFileFlag(fs)
	username := fs.String("username", "", "the user")
	var phone, since, newKeyFile, to *string
	switch sub {
	case "useradd":
		phone = fs.String("phone", "", "the phone number, +CC then digits")
	case "audit":
		fs.StringVar(username, "user", "", "only the events of this user (the same as --username)")
		since = fs.String("since", "", "only the events at or after TIME: RFC 3339 (2026-11-26T12:00:00Z) or a duration before now (24h, 90m)")
	case "rekey":
		newKeyFile = fs.String("new-key-file", "", "the new master key file: read, or made when there is none")
	case "backup":
		to = fs.String("to", "", "the new file of the copy (SQLite; PostgreSQL: pg_dump)")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dbPath == "" {
		return usagef("admin %s: --db is required", sub)
	}
	if *username == "" && sub != "devices" && sub != "fraud-reports" && sub != "audit" && sub != "rekey" && sub != "backup" {
		return usagef("admin %s: --username is required", sub)
	}
	if *username != "" {
		// Usernames are one form whatever the case (protocol.CanonicalUsername).
		c, ok := protocol.CanonicalUsername(*username)
		if !ok {
			return core.ErrBadUsername
		}
		*username = c
	}
	ctx := context.Background()
	open := func() (store.Store, error) {
		st, m, err := openServiceDB(ctx, *dbPath, *keyFile)
		*made = m
		return st, err
	}
	now := time.Now()
	switch sub {
	case "useradd":
		if *phone == "" {
			return usagef("admin useradd: --phone is required")
		}
		if !core.ValidPhone(*phone) {
			return core.ErrBadPhone
		}
		pw, err := e.readSecret("Password: ")
		if err != nil {
			return err
		}
		if e.ttyFD >= 0 {
			again, err := e.readSecret("Password again: ")
			if err != nil {
				return err
			}
			if again != pw {
				return fmt.Errorf("admin useradd: the passwords differ")
			}
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		a, err := core.CreateAccount(ctx, st, rand.Reader, now, *username, *phone, pw, core.DefaultArgon2)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\t%s\n", a.Username, a.Account)
	case "unlock":
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		if err := core.UnlockAccount(ctx, st, now, *username); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\tunlocked\n", *username)
	case "devices":
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		ds, err := core.ListDevices(ctx, st, *username)
		if err != nil {
			return err
		}
		for _, d := range ds {
			at := "-"
			if !d.Activated.IsZero() {
				at = d.Activated.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", d.Username, d.ID, d.State, d.Suite, at)
		}
	case "temp-password":
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		id, err := core.IssueTempPassword(ctx, st, rand.Reader, now, *username, core.DefaultArgon2)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", id)
	case "fraud-reports":
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		rs, err := core.FraudReports(ctx, st, *username)
		if err != nil {
			return err
		}
		for _, r := range rs {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Username, r.LoginID, r.IP, r.App, r.Browser)
		}
	case "audit":
		from, err := parseSince(*since, now)
		if err != nil {
			return err
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		h := core.AuditHandler(e.stdout)
		return core.ReadAudit(ctx, st, store.AuditFilter{Username: *username, Since: from}, func(ev store.AuditEvent) error {
			return core.LogAudit(ctx, h, ev)
		})
	case "rekey":
		if *newKeyFile == "" {
			return usagef("admin rekey: --new-key-file is required")
		}
		k, madeNew, err := store.LoadOrCreateKeyFile(*newKeyFile)
		if err != nil {
			return err
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		r, ok := st.(store.Rekeyer)
		if !ok {
			return fmt.Errorf("admin rekey: this store cannot change its key")
		}
		if err := r.Rekey(ctx, k); err != nil {
			if madeNew {
				os.Remove(*newKeyFile)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", *newKeyFile)
		fmt.Fprintf(e.stderr, "ibkey: the database is sealed under %s now: give every instance this key file, and keep the old one until the backups sealed under it are gone\n", *newKeyFile)
	case "backup":
		if *to == "" {
			return usagef("admin backup: --to is required")
		}
		st, err := open()
		if err != nil {
			return err
		}
		defer st.Close()
		b, ok := st.(interface {
			Backup(context.Context, string) error
		})
		if !ok {
			return fmt.Errorf("admin backup: a PostgreSQL database is backed up with its own tools (pg_dump, base backups)")
		}
		if err := b.Backup(ctx, *to); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", *to)
	default:
		return usagef("admin: unknown subcommand %q", sub)
	}
	return nil
}

// parseSince reads --since: an RFC 3339 time, or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("admin audit: --since %q is neither an RFC 3339 time (2026-11-26T12:00:00Z) nor a duration (24h)", s)
}
