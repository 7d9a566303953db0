package app_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
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
