package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/config"
	"github.com/connectbook/connectbook/internal/data"
)

var backupHelp = help{
	name:     "backup",
	synopsis: []string{"connectbook backup --out FILE [--db FILE]"},
	about: `Copies a SQLite database to a new file while the server keeps running and
writing. The copy is the database as it stood at one moment: every
transaction committed by then, whole, and none after. It is written beside
FILE, checked with SQLite's integrity check, and only then given its name,
readable by its owner only: it holds password hashes and sessions. An
existing FILE is never overwritten, and a missing database is not created.

The copy holds accounts, posts, follows, notifications, the security log
and, unless they are kept in Redis, sessions. To restore it, stop the
server, delete the database's -wal and -shm files, put the copy in the
database's place, and run "connectbook sessions revoke --all-users" before
starting the server again: sessions ended since the copy was made would
work again. With sessions in Redis, delete those instead: see "Backups" in
docs/operating.md.

A PostgreSQL database is backed up with pg_dump instead.
`,
}

const outExists = "connectbook backup: %s exists already, and a backup never overwrites a file: give --out a new name\n"

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("backup", &backupHelp)
	dbDefault := os.Getenv("CONNECTBOOK_DB")
	if dbDefault == "" {
		dbDefault = config.DefaultDB
	}
	db := f.String("db", dbDefault, "SQLite database file to copy (CONNECTBOOK_DB)")
	out := f.String("out", "", "the new file to write the copy to")
	if code, stop := f.parse(args, stdout, stderr); stop {
		return code
	}
	switch {
	case f.NArg() > 0:
		return f.misuse(stderr, "unexpected argument %q", f.Arg(0))
	case *db == "":
		return f.misuse(stderr, "--db is empty: give the SQLite database file to copy")
	case config.IsPostgresURL(*db):
		file := *out
		if file == "" {
			file = "connectbook.dump"
		}
		fmt.Fprintf(stderr, "connectbook backup: --db is a PostgreSQL database: back it up with pg_dump, which copies the sessions kept in it too:\n  pg_dump --format=custom --file=%s %s\n",
			shellQuote(file), shellQuote(config.RedactURL(*db)))
		return 2
	case *out == "":
		return f.misuse(stderr, "--out is required: the new file to write the copy to")
	}
	if _, err := os.Stat(*db); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "connectbook backup: there is no database %s (--db); nothing was written\n", *db)
		return 2
	}
	if _, err := os.Lstat(*out); err == nil {
		fmt.Fprintf(stderr, outExists, *out)
		return 2
	}
	if dir := filepath.Dir(*out); !isDir(dir) {
		fmt.Fprintf(stderr, "connectbook backup: the directory %s, where --out would go, does not exist\n", dir)
		return 2
	}
	start := time.Now()
	size, err := data.Backup(ctx, *db, *out)
	switch {
	case errors.Is(err, fs.ErrExist): // made meanwhile
		fmt.Fprintf(stderr, outExists, *out)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "connectbook backup: %v; nothing was written to %s\n", err, *out)
		return 1
	}
	fmt.Fprintf(stdout, "Backed up %s to %s: %s in %s; integrity check ok.\n",
		*db, *out, byteSize(size), time.Since(start).Round(time.Millisecond))
	return 0
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// shellQuote quotes s for a POSIX shell, if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// byteSize says n bytes the way ls -h and df -h do, in powers of 1024.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, prefix := float64(n)/unit, "KMGTPE"
	for i := 0; ; i++ {
		if v < unit || i == len(prefix)-1 {
			return fmt.Sprintf("%.1f %ciB", v, prefix[i])
		}
		v /= unit
	}
}
