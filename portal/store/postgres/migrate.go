package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"ibkey/internal/atrest"
	"ibkey/portal/store/internal/sqlrec"
)

// The schema is embedded (schema/NNN_*.sql) and applied in order, each
// version in a transaction of its own, under an advisory lock that every
// instance takes, so that instances starting at once migrate once; the
// version is the one row of schema_version.

//go:embed schema/*.sql
var schemaFS embed.FS

// migrationLock is the advisory lock of the migrations ("ibkey" in ASCII).
const migrationLock = 0x69626b6579

// goSteps are the migrations that need Go code besides their SQL: each
// runs after its version's SQL, in the same transaction.
var goSteps = map[int]func(context.Context, pgx.Tx, *atrest.Key) error{
	1: recordKeyID,
}

// recordKeyID records the id of the master key the database is sealed
// under.
func recordKeyID(ctx context.Context, tx pgx.Tx, key *atrest.Key) error {
	_, err := tx.Exec(ctx, "INSERT INTO meta(key, value) VALUES($1, $2)", sqlrec.MetaKeyID, key.ID())
	return err
}

// Versions is the number of schema versions this program knows.
func Versions() int {
	files, _ := fs.Glob(schemaFS, "schema/*.sql")
	return len(files)
}

func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Glob(schemaFS, "schema/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for {
		done, err := s.step(ctx, files)
		if err != nil || done {
			return err
		}
	}
}

// step migrates by one version, if the database needs one, and reports
// whether it is at the newest.
func (s *Store) step(ctx context.Context, files []string) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(max(version), 0) FROM schema_version").Scan(&version); err != nil {
		return false, fmt.Errorf("postgres: read schema version: %w", err)
	}
	switch {
	case version > len(files):
		return false, fmt.Errorf("postgres: database schema version %d is newer than this program (%d)", version, len(files))
	case version == len(files):
		return true, tx.Commit(ctx)
	}
	n := version + 1
	name := files[version]
	v, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "schema/"), "_", 2)[0])
	if err != nil || v != n {
		return false, fmt.Errorf("postgres: schema file %s out of sequence", name)
	}
	body, err := schemaFS.ReadFile(name)
	if err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return false, fmt.Errorf("postgres: migrate to version %d: %w", n, err)
	}
	if f := goSteps[n]; f != nil {
		if err := f(ctx, tx, s.key.Load()); err != nil {
			return false, fmt.Errorf("postgres: migrate to version %d: %w", n, err)
		}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM schema_version"); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO schema_version(version) VALUES($1)", n); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("postgres: migrate to version %d: %w", n, err)
	}
	return n == len(files), nil
}
