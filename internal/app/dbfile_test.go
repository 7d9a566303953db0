//go:build unix

package app_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/app"
	"github.com/connectbook/connectbook/internal/testdb"
	"github.com/connectbook/connectbook/internal/testlog"
)

func openApp(t *testing.T, path string, logs *testlog.Buffer) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), app.Options{DB: path, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// checkModes checks the database file, its -wal and its -shm all exist with
// mode want.
func checkModes(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
}

// A new SQLite database, and the -wal and -shm files SQLite makes for it,
// can be read by their owner only, whatever the umask.
func TestNewDatabaseOwnerOnly(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask %04o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			path := testdb.SQLite(t)
			a := openApp(t, path, &testlog.Buffer{})
			if _, err := a.DB.CreateUser(context.Background(), "alice", "alice", "h", time.Now()); err != nil {
				t.Fatal(err)
			}
			checkModes(t, path, 0o600)
		})
	}
}

// An existing database open to other users, as ConnectBook used to create
// it, is made owner-only with its -wal and -shm when the app opens it
// (here, as an admin command would while serve has it open), once, and
// said so in the log.
func TestExistingDatabaseMadeOwnerOnly(t *testing.T) {
	path := testdb.SQLite(t)
	openApp(t, path, &testlog.Buffer{})
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs testlog.Buffer
	a := openApp(t, path, &logs)
	if _, err := a.DB.CreateUser(context.Background(), "alice", "alice", "h", time.Now()); err != nil {
		t.Fatal(err)
	}
	checkModes(t, path, 0o600)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if want := fmt.Sprintf("path=%s previous_mode=0644 mode=0600", p); !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "owner-only"); n != 3 {
		t.Errorf("%d lines about permissions, want 3:\n%s", n, logs.String())
	}

	var again testlog.Buffer
	openApp(t, path, &again)
	if strings.Contains(again.String(), "owner-only") {
		t.Errorf("logged again:\n%s", again.String())
	}
}

// otherUID is the user tests give files to that ConnectBook must refuse:
// nobody, on most systems.
const otherUID = 65534

// A database, -wal or -shm file that belongs to another user (who created
// it first in a directory both can write to) is refused: the app does not
// start, the error names the file and what to do, and nothing is written
// into it.
func TestForeignDatabaseFileRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("giving a file to another user needs root; run the tests as root to check that another user's database file is refused")
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		t.Run("file"+suffix, func(t *testing.T) {
			path := testdb.SQLite(t)
			foreign := path + suffix
			if err := os.WriteFile(foreign, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(foreign, 0o666); err != nil { // whatever the umask
				t.Fatal(err)
			}
			if err := os.Chown(foreign, otherUID, otherUID); err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(context.Background(), app.Options{DB: path, Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				a.Close()
				t.Fatalf("Open succeeded with %s owned by user %d", foreign, otherUID)
			}
			for _, want := range []string{foreign, fmt.Sprintf("belongs to user %d", otherUID), "remove it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			fi, err := os.Stat(foreign)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != 0 || fi.Mode().Perm() != 0o666 {
				t.Errorf("%s: %d bytes, mode %04o; want it untouched", foreign, fi.Size(), fi.Mode().Perm())
			}
		})
	}
}
