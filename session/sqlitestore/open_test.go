//go:build unix

package sqlitestore_test

import (
	"os"
	"path/filepath"
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
