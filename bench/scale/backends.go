package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/pgstore"
	"github.com/connectbook/connectbook/session/redisstore"
	"github.com/connectbook/connectbook/session/sqlitestore"
)

// backend is one store under test, in a place of its own.
type backend struct {
	name  string
	store session.Store
	// analyze, if set, refreshes the planner's statistics.
	analyze func(context.Context) error
	// size returns the bytes the store's data takes.
	size func(context.Context) (int64, error)
	// close removes everything the run created.
	close func(context.Context) error
}

func openBackend(ctx context.Context, cfg config, name string) (*backend, error) {
	switch name {
	case "sqlite":
		return openSQLite(ctx, cfg)
	case "postgres":
		return openPostgres(ctx, cfg)
	case "redis":
		return openRedis(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown store %q (want sqlite, postgres or redis)", name)
}

func openSQLite(ctx context.Context, cfg config) (*backend, error) {
	dir := cfg.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "connectbook-scale-"); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, "scale.db")
	files := []string{path, path + "-wal", path + "-shm"}
	removeAll := func() error {
		var errs []error
		for _, f := range files {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if cfg.dir == "" {
			errs = append(errs, os.Remove(dir))
		}
		return errors.Join(errs...)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s exists already (or cannot be checked: %v); remove it or choose another -dir", path, err)
	}
	db, err := sqlitestore.Open(path)
	if err != nil {
		return nil, errors.Join(err, removeAll())
	}
	st, err := sqlitestore.New(ctx, db, sqlitestore.Options{})
	if err != nil {
		return nil, errors.Join(err, db.Close(), removeAll())
	}
	return &backend{
		name:  "SQLite",
		store: st,
		// The database file alone: the WAL is scratch space, which keeps
		// the largest size it ever reached.
		size: func(context.Context) (int64, error) {
			fi, err := os.Stat(path)
			if err != nil {
				return 0, err
			}
			return fi.Size(), nil
		},
		close: func(context.Context) error { return errors.Join(st.Close(), db.Close(), removeAll()) },
	}, nil
}

func openPostgres(ctx context.Context, cfg config) (*backend, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.postgres)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = int32(max(cfg.workers, cfg.readers, 4))
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	var exists bool
	err = pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL OR to_regclass($1 || '_endings') IS NOT NULL`, cfg.table).Scan(&exists)
	if err == nil && exists {
		err = fmt.Errorf("table %s or %s_endings exists already; drop it or choose another -table", cfg.table, cfg.table)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	// New checks the name, which the statements below then use as is.
	st, err := pgstore.New(ctx, pool, pgstore.Options{Table: cfg.table})
	drop := func(ctx context.Context) error {
		defer pool.Close()
		_, err := pool.Exec(ctx, `DROP TABLE IF EXISTS `+cfg.table+`, `+cfg.table+`_endings`)
		return err
	}
	if err != nil {
		return nil, errors.Join(err, drop(ctx))
	}
	return &backend{
		name:  "PostgreSQL",
		store: st,
		analyze: func(ctx context.Context) error {
			_, err := pool.Exec(ctx, `ANALYZE `+cfg.table+`, `+cfg.table+`_endings`)
			return err
		},
		size: func(ctx context.Context) (int64, error) {
			var n int64
			err := pool.QueryRow(ctx, `SELECT pg_total_relation_size($1) + pg_total_relation_size($1 || '_endings')`, cfg.table).Scan(&n)
			return n, err
		},
		close: drop,
	}, nil
}

func openRedis(ctx context.Context, cfg config) (*backend, error) {
	opt, err := redis.ParseURL(cfg.redis)
	if err != nil {
		return nil, err
	}
	opt.PoolSize = max(cfg.workers, cfg.readers, 10)
	c := redis.NewClient(opt)
	pattern := escapeGlob(cfg.prefix) + "*"
	err = eachKey(ctx, c, pattern, func(keys []string) error {
		return fmt.Errorf("keys under prefix %q exist already (%s, ...); delete them or choose another -prefix", cfg.prefix, keys[0])
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	base, err := usedMemory(ctx, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	st, err := redisstore.New(c, redisstore.Options{Prefix: cfg.prefix})
	if err != nil {
		c.Close()
		return nil, err
	}
	return &backend{
		name:  "Redis",
		store: st,
		size: func(ctx context.Context) (int64, error) {
			n, err := usedMemory(ctx, c)
			return n - base, err
		},
		close: func(ctx context.Context) error {
			defer c.Close()
			return eachKey(ctx, c, pattern, func(keys []string) error { return c.Unlink(ctx, keys...).Err() })
		},
	}, nil
}

// eachKey calls f with every batch of keys that match pattern.
func eachKey(ctx context.Context, c *redis.Client, pattern string, f func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := f(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// usedMemory returns the server's used_memory.
func usedMemory(ctx context.Context, c *redis.Client) (int64, error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO memory")
}

// escapeGlob escapes the characters that SCAN's MATCH patterns give a
// meaning.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
