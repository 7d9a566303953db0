package app

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/connectbook/connectbook/internal/config"
)

// restrictDBFiles checks an existing SQLite database and its -wal and -shm
// files before SQLite opens them. The database holds password hashes and
// everyone's sessions and security events: it is its owner's alone.
//
// A file that belongs to another user is refused: that user could read it
// whatever its mode, having created it first in a directory both can write
// to, say. A file open to its group or others (a database made before
// ConnectBook created them 0600 is 0644) is made owner-only, with a WARN
// line; one that cannot be is refused too. Both happen before SQLite opens
// the database, since SQLite gives new -wal and -shm files the database
// file's mode and owner. A new database is created 0600 by
// sqlitestore.Open.
func restrictDBFiles(dsn string, logger *slog.Logger) error {
	if config.IsPostgresURL(dsn) {
		return nil
	}
	for _, path := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
		if err := restrictDBFile(path, logger); err != nil {
			return err
		}
	}
	return nil
}

// restrictDBFile reads the owner and mode of the file at path, if there is
// one, and changes the mode. It works by the file's name, never through a
// descriptor: closing any descriptor of a file drops every POSIX lock the
// process holds on it (fcntl(2)), SQLite's included, and another part of
// the process may have the database open (without its locks, another
// process takes the database for unused and deletes the log it writes to).
func restrictDBFile(path string, logger *slog.Logger) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot check the database file %s: %w", path, err)
	}
	if err := checkOwner(path, fi); err != nil {
		return err
	}
	was := fi.Mode().Perm()
	if !fi.Mode().IsRegular() || was&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, was&^0o077); err != nil {
		return fmt.Errorf("the database file %s is open to other local users (mode %04o) and cannot be made owner-only: %w; make it so (chmod 600 %s) and start again",
			path, was, err, path)
	}
	logger.Warn("the database file was open to other local users: made it owner-only",
		"path", path, "previous_mode", fmt.Sprintf("%04o", was), "mode", fmt.Sprintf("%04o", was&^0o077))
	return nil
}

// checkOwner returns an error if fi, the file at path, belongs to another
// user than the one ConnectBook runs as.
func checkOwner(path string, fi fs.FileInfo) error {
	uid, ok := fileOwner(fi)
	if !ok || uid == os.Getuid() {
		return nil
	}
	return fmt.Errorf("the database file %s belongs to user %d, but ConnectBook runs as user %d, and that user could read what it holds: "+
		"run ConnectBook as the file's owner, or, if the file is not yours, remove it and keep the database in a directory only you can write to",
		path, uid, os.Getuid())
}
