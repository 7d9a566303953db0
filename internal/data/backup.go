package data

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/connectbook/connectbook/internal/config"
)

// ErrPostgresBackup is Backup's answer for a PostgreSQL database, which
// pg_dump backs up.
var ErrPostgresBackup = errors.New("data: a PostgreSQL database is backed up with pg_dump")

// Backup copies the SQLite database file src to a new file dst, as it stood
// at one moment, while other connections (a running server's) go on
// writing, and returns the copy's size in bytes.
//
// VACUUM INTO reads the database in one read transaction: in WAL mode that
// neither waits for writers nor holds them up, and it sees every
// transaction committed before it began and nothing of any later one.
// Copying the file would miss what is still in the -wal file and could
// catch pages half written.
//
// Unlike Open, Backup neither creates a missing src nor brings its schema up
// to date: it only reads it. The copy is written to a temporary file
// beside dst, owner-only (it holds password hashes and sessions), synced,
// checked with PRAGMA integrity_check, and only then given its name. It
// never replaces a file: when dst exists the error wraps fs.ErrExist. When
// Backup fails, there is nothing at dst.
func Backup(ctx context.Context, src, dst string) (int64, error) {
	if config.IsPostgresURL(src) {
		return 0, ErrPostgresBackup
	}
	if _, err := os.Lstat(dst); err == nil {
		return 0, fmt.Errorf("data: %s: %w", dst, fs.ErrExist)
	}
	// Absolute, so that SQLite cannot take the name for a file: URI.
	dst, err := filepath.Abs(dst)
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	// Mode 0600 whatever the umask. SQLite writes into a file that exists
	// only if it is empty, and keeps its mode.
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	if err := vacuumInto(ctx, src, tmp); err != nil {
		return 0, err
	}
	if err := syncFile(tmp); err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	if err := checkIntegrity(ctx, tmp); err != nil {
		return 0, err
	}
	if err := publish(tmp, dst); err != nil {
		return 0, err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	// The new name reaches the disk with the directory. Best effort: some
	// systems cannot sync a directory, and the copy is complete either way.
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return fi.Size(), nil
}

// vacuumInto writes a copy of the database at src into the empty file dst.
func vacuumInto(ctx context.Context, src, dst string) error {
	q := url.Values{}
	q.Set("mode", "rw") // never create src
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", sqliteURI(src, q))
	if err != nil {
		return fmt.Errorf("data: open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("data: copy %s: %w", src, err)
	}
	return db.Close()
}

// checkIntegrity runs SQLite's full integrity check on the database file at
// path, opened read-only, and returns an error listing what it found.
func checkIntegrity(ctx context.Context, path string) error {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1") // nothing else has the file
	db, err := sql.Open("sqlite", sqliteURI(path, q))
	if err != nil {
		return fmt.Errorf("data: check the copy: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return fmt.Errorf("data: check the copy: %w", err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("data: check the copy: %w", err)
		}
		found = append(found, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("data: check the copy: %w", err)
	}
	if len(found) != 1 || found[0] != "ok" {
		return fmt.Errorf("data: the copy failed SQLite's integrity check: %s", strings.Join(found, "; "))
	}
	return nil
}

// publish gives the finished copy tmp its name dst, unless dst exists.
func publish(tmp, dst string) error {
	// A hard link fails if dst exists, where a rename would replace it.
	err := os.Link(tmp, dst)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("data: %s: %w", dst, fs.ErrExist)
	}
	if err != nil {
		// Some file systems (FAT, some network mounts) have no hard
		// links: look, then rename.
		if _, serr := os.Lstat(dst); serr == nil {
			return fmt.Errorf("data: %s: %w", dst, fs.ErrExist)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("data: %w", err)
		}
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sqliteURI names the file at path with query q. The path is escaped, as
// SQLite decodes %XX and ends a URI's file name at ? or #.
func sqliteURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Opaque: url.PathEscape(path), RawQuery: q.Encode()}
	return u.String()
}
