package cli

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

func TestBackupCommand(t *testing.T) {
	clearEnv(t)
	dsn := testdb.SQLite(t)
	if code, out, errs := cmd(t, "correct horse battery\n", "user", "add", "alice", "--db", dsn); code != 0 {
		t.Fatalf("user add: %d %q %q", code, out, errs)
	}
	dir := t.TempDir()
	copied := filepath.Join(dir, "backup.db")
	code, out, errs := cmd(t, "", "backup", "--db", dsn, "--out", copied)
	line := regexp.MustCompile(`^Backed up \S+ to ` + regexp.QuoteMeta(copied) + `: \d+\.\d [KM]iB in \d+(\.\d+)?m?s; integrity check ok\.\n$`)
	if code != 0 || errs != "" || !line.MatchString(out) {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// Owner-only: the copy holds password hashes and sessions.
	if fi, err := os.Stat(copied); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the copy: %v, %v; want mode 0600", fi, err)
	}
	db, err := data.Open(context.Background(), copied)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByUsername(context.Background(), "alice"); err != nil {
		t.Errorf("alice is not in the copy: %v", err)
	}
	db.Close()

	// --db from the environment, as the other commands take it.
	clearEnv(t, "CONNECTBOOK_DB", dsn)
	if code, out, errs := cmd(t, "", "backup", "--out", filepath.Join(dir, "again.db")); code != 0 || !strings.HasPrefix(out, "Backed up "+dsn+" to ") {
		t.Fatalf("backup with CONNECTBOOK_DB: exit %d, %q, %q", code, out, errs)
	}
	clearEnv(t)

	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("not a database, but long enough to be taken for one's header.....\n"), 0o600)
	existing := filepath.Join(dir, "existing.db")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	missing := filepath.Join(dir, "missing.db")
	want := []string{"again.db", "backup.db", "existing.db", "notes.txt"}

	for _, c := range []struct {
		args  []string
		code  int
		error string // in standard error
		usage bool   // followed by the usage
	}{
		{[]string{"--db", dsn}, 2, "connectbook backup: --out is required", true},
		{[]string{"--db", dsn, "--out", existing}, 2, "connectbook backup: " + existing + " exists already, and a backup never overwrites a file", false},
		{[]string{"--db", dsn, "--out", filepath.Join(dir, "nowhere", "b.db")}, 2, "connectbook backup: the directory " + filepath.Join(dir, "nowhere") + ", where --out would go, does not exist", false},
		{[]string{"--db", missing, "--out", filepath.Join(dir, "b.db")}, 2, "connectbook backup: there is no database " + missing + " (--db); nothing was written", false},
		{[]string{"--db", "postgres://app:hunter2secret@db.internal/connectbook", "--out", "cb.dump"}, 2,
			"back it up with pg_dump, which copies the sessions kept in it too:\n  pg_dump --format=custom --file=cb.dump 'postgres://app:xxxxx@db.internal/connectbook'\n", false},
		{[]string{"--db", "postgresql://db.internal/connectbook?sslmode=require"}, 2,
			"pg_dump --format=custom --file=connectbook.dump 'postgresql://db.internal/connectbook?sslmode=require'\n", false},
		{[]string{"--db", dsn, "--out", filepath.Join(dir, "b.db"), "extra"}, 2, `connectbook backup: unexpected argument "extra"`, true},
		{[]string{"--db", dsn, "--out", filepath.Join(dir, "b.db"), "--bogus"}, 2, "connectbook backup: unknown flag --bogus", true},
		{[]string{"--db", "", "--out", filepath.Join(dir, "b.db")}, 2, "connectbook backup: --db is empty", true},
		{[]string{"--db", notDB, "--out", filepath.Join(dir, "b.db")}, 1, "; nothing was written to " + filepath.Join(dir, "b.db"), false},
	} {
		code, out, errs := cmd(t, "", append([]string{"backup"}, c.args...)...)
		if code != c.code || out != "" || !strings.Contains(errs, c.error) || strings.Contains(errs, "hunter2secret") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, out, errs, c.code, c.error)
		}
		if shown := strings.Contains(errs, "Usage:\n  connectbook backup --out FILE"); shown != c.usage {
			t.Errorf("%q: usage shown %v, want %v:\n%s", c.args, shown, c.usage, errs)
		}
		// Nothing written: no file made, the existing one as it was, and
		// the missing database not created.
		var names []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("%q: the directory holds %q, want %q", c.args, names, want)
		}
		if b, _ := os.ReadFile(existing); string(b) != "keep me" {
			t.Fatalf("%q: the existing file was changed: %q", c.args, b)
		}
		if _, err := os.Stat("cb.dump"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%q: wrote cb.dump", c.args)
		}
	}

	if code, out, _ := cmd(t, "", "help"); code != 0 || !strings.Contains(out, "\n  backup ") {
		t.Errorf("help does not list backup:\n%s", out)
	}
	clearEnv(t, "CONNECTBOOK_DB", "postgres://app:hunter2secret@db.internal/connectbook")
	if _, out, _ := cmd(t, "", "help", "backup"); strings.Contains(out, "hunter2secret") || !strings.Contains(out, "postgres://app:xxxxx@") {
		t.Errorf("help backup shows the password from CONNECTBOOK_DB:\n%s", out)
	}
}
