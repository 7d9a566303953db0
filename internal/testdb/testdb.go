// Package testdb gives tests a fresh ConnectBook database on each backend:
// a SQLite file in a temporary directory, and, when CONNECTBOOK_TEST_POSTGRES
// is set, a PostgreSQL schema of its own that is dropped afterwards.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/redis/go-redis/v9"
)

// Variables naming the test servers.
const (
	PostgresEnv = "CONNECTBOOK_TEST_POSTGRES"
	RedisEnv    = "CONNECTBOOK_TEST_REDIS"
)

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

// Redis returns the Redis test server's URL and a key prefix of t's own,
// whose keys are deleted when t ends. It skips t when CONNECTBOOK_TEST_REDIS
// is not set.
func Redis(t testing.TB) (url, prefix string) {
	url = os.Getenv(RedisEnv)
	if url == "" {
		t.Skipf("%s is not set; set it to a redis:// URL to run this with Redis", RedisEnv)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", RedisEnv, err)
	}
	var b [6]byte
	rand.Read(b[:])
	prefix = "cbtest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleaning %s*: %v", prefix, err)
		}
	})
	return url, prefix
}
