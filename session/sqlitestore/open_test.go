//go:build unix

package sqlitestore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/connectbook/connectbook/session/sqlitestore"
)

// Open creates a database, and SQLite its -wal and -shm, owner-only even
// under a umask that gives everyone access; an existing file keeps its mode.
func TestOpenFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fresh, existing := filepath.Join(dir, "fresh.db"), filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{fresh, 0o600},
		{existing, 0o640},
	} {
		db, err := sqlitestore.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{c.path, c.path + "-wal", c.path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("%s: mode %04o, want %04o", filepath.Base(p), got, c.want)
			}
		}
	}
}

// Open refuses a database, -wal or -shm file that belongs to another user
// (who created it first in a directory both can write to), and writes
// nothing into it.
func TestOpenRefusesForeignFiles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("giving a file to another user needs root; run the tests as root to check that Open refuses another user's files")
	}
	const other = 65534 // nobody, on most systems
	for _, suffix := range []string{"", "-wal", "-shm"} {
		t.Run("file"+suffix, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.db")
			foreign := path + suffix
			if err := os.WriteFile(foreign, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(foreign, other, other); err != nil {
				t.Fatal(err)
			}
			db, err := sqlitestore.Open(path)
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded with %s owned by user %d", filepath.Base(foreign), other)
			}
			if want := fmt.Sprintf("%s belongs to user %d", foreign, other); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
			if fi, err := os.Stat(foreign); err != nil || fi.Size() != 0 {
				t.Errorf("%s written to: %v, %v", filepath.Base(foreign), fi, err)
			}
		})
	}
}

// The file Open creates is the one SQLite opens, whatever characters its
// name holds: SQLite reads the name from a file: URI, where ?, # and %
// would otherwise end or change it.
func TestOpenPathNeedingEscapes(t *testing.T) {
	// One directory for all, named plainly: a subtest's own would carry
	// the characters in its name, and a broken Open would leave files
	// outside it.
	base := t.TempDir()
	for i, name := range []string{"a?b.db", "100%.db", "a%3Fb.db", "a%2e.db", "a#b.db", "with space.db", "a&mode=ro.db"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(base, strconv.Itoa(i))
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name)
			db, err := sqlitestore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			var file string
			if err := db.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
				t.Fatal(err)
			}
			if file != path {
				t.Errorf("SQLite opened %q, want %q", file, path)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{name, name + "-shm", name + "-wal"}; !slices.Equal(names, want) {
				t.Errorf("files %q, want %q", names, want)
			}
		})
	}
}

// The write-ahead log is cut back after checkpoints, on every connection.
func TestOpenLimitsTheLog(t *testing.T) {
	db, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(3)
	for range 3 {
		var limit int64
		if err := db.QueryRow(`PRAGMA journal_size_limit`).Scan(&limit); err != nil || limit != 64<<20 {
			t.Fatalf("journal_size_limit = %d, %v; want %d", limit, err, 64<<20)
		}
	}
}
