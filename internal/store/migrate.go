package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema history. Each file is NNNN_name.sql and
// is applied once, in order; PRAGMA user_version records the last one. A
// migration may have a Go step (goSteps, rekey.go) that runs after its SQL
// in the same transaction.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations in order. The set is fixed at
// build time, so a malformed one is a programming error caught by tests.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must start with a positive number and '_'", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestSchemaVersion is the schema version this build migrates to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// VersionError reports a database written by a newer syndic.
type VersionError struct {
	Have int // the database's schema version
	Know int // the newest version this build knows
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this syndic (knows %d): upgrade syndic or restore a backup", e.Have, e.Know)
}

// SchemaVersion reports the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.reader.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate brings the schema up to date, one transaction per migration so
// that a failure leaves the database at the last good version.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	var have int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(ms) {
		return &VersionError{Have: have, Know: len(ms)}
	}
	for _, m := range ms[have:] {
		err := s.write(ctx, func(tx *sql.Tx) error {
			// Re-read inside the write lock: another process may have
			// migrated meanwhile.
			var v int
			if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
				return err
			}
			if v >= m.version {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if step := goSteps[m.version]; step != nil {
				if err := step(ctx, tx); err != nil {
					return err
				}
			}
			// PRAGMA takes no parameters; the version is our own integer.
			_, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		s.log.Info("database migrated", "path", s.path, "migration", m.name, "schema_version", m.version)
	}
	return nil
}

// checkVersion refuses a database that is not exactly at this build's
// schema; a read-only store cannot migrate it.
func (s *Store) checkVersion(ctx context.Context) error {
	have, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	know := LatestSchemaVersion()
	switch {
	case have > know:
		return &VersionError{Have: have, Know: know}
	case have < know:
		return fmt.Errorf("database schema version %d is older than this syndic (knows %d): open it read-write once to migrate", have, know)
	}
	return nil
}
