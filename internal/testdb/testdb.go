// Package testdb gives tests a fresh ConnectBook database on each backend:
// a SQLite file in a temporary directory, and, when CONNECTBOOK_TEST_POSTGRES
// is set, a PostgreSQL schema of its own that is dropped afterwards.
package testdb

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// PostgresEnv names the variable holding the PostgreSQL test server's URL.
const PostgresEnv = "CONNECTBOOK_TEST_POSTGRES"

// Backend makes fresh databases of one kind.
type Backend struct {
	Name string
	// DSN returns the address of an empty database for t, or skips t with
	// a message naming the variable to set.
	DSN func(t testing.TB) string
}

// Backends are SQLite and PostgreSQL.
var Backends = []Backend{
	{"sqlite", SQLite},
	{"postgres", Postgres},
}

// SQLite returns the path of a new database file in t's temporary directory.
func SQLite(t testing.TB) string { return filepath.Join(t.TempDir(), "connectbook.db") }

// Postgres returns a URL whose search_path is a new schema, dropped when t
// ends. It skips t when CONNECTBOOK_TEST_POSTGRES is not set.
func Postgres(t testing.TB) string {
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("%s is not set; set it to a postgres:// URL to run this on PostgreSQL", PostgresEnv)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "cbtest_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
