package app_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/testdb"
)

// A database file open to other users that cannot be made owner-only (here
// immutable) is refused rather than used as it is.
func TestUnrestrictableDatabaseRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("making a file immutable needs root; run the tests as root to check that a database that cannot be made owner-only is refused")
	}
	path := testdb.SQLite(t)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s immutable (chattr +i: %v %s); this file system cannot run the test", path, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			t.Errorf("chattr -i: %v %s", err, out)
		}
	})
	a, err := app.Open(context.Background(), app.Options{DB: path, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		a.Close()
		t.Fatal("Open succeeded with a database open to other users that could not be made owner-only")
	}
	for _, want := range []string{path, "owner-only", "chmod 600"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// posixLocks counts the POSIX locks this process holds (/proc/locks).
func posixLocks(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[1] == "POSIX" && f[4] == strconv.Itoa(os.Getpid()) {
			n++
		}
	}
	return n
}

// Opening the app checks the database's files while this process may hold
// them open already: it must not drop SQLite's locks on them (closing any
// descriptor of a file drops every POSIX lock the process holds on it),
// or another process would take the database for unused and delete the
// log this one writes to.
func TestOpeningKeepsTheLocks(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "c.db")
	open := func() *app.App {
		t.Helper()
		a, err := app.Open(context.Background(), app.Options{DB: dsn, Logger: slog.New(slog.DiscardHandler), NoMetrics: true})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	open().Close() // the database exists from here on, in WAL mode
	first := open()
	defer first.Close()
	held := posixLocks(t)
	if held == 0 {
		t.Fatal("the open database holds no POSIX lock")
	}
	second := open()
	defer second.Close()
	if n := posixLocks(t); n < held {
		t.Fatalf("opening the database again left %d POSIX locks of %d", n, held)
	}
}
