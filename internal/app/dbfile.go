package app

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/connectbook/connectbook/internal/config"
)

// restrictDBFiles takes group and other users' access off an existing
// SQLite database and its -wal and -shm files, logging each file it changes
// or cannot change. The database holds password hashes and everyone's
// sessions and security events: it is its owner's alone, however it was
// created (a database made before ConnectBook created them 0600 is 0644),
// and it is restricted before SQLite opens it, since SQLite gives new -wal
// and -shm files the database file's mode. A new database is created 0600
// by sqlitestore.Open.
func restrictDBFiles(dsn string, logger *slog.Logger) {
	if config.IsPostgresURL(dsn) {
		return
	}
	for _, path := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
		// The mode is read and changed through one descriptor, so both
		// are the same file's.
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			logger.Warn("cannot check the database file's permissions", "path", path, "err", err)
			continue
		}
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			was := fi.Mode().Perm()
			if err = f.Chmod(was &^ 0o077); err == nil {
				logger.Warn("the database file was open to other local users: made it owner-only",
					"path", path, "previous_mode", fmt.Sprintf("%04o", was), "mode", fmt.Sprintf("%04o", was&^0o077))
			}
		}
		if err != nil {
			logger.Warn("cannot make the database file owner-only", "path", path, "err", err)
		}
		f.Close()
	}
}
