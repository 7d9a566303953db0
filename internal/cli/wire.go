package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/pgstore"
	"github.com/connectbook/connectbook/session/redisstore"
	"github.com/connectbook/connectbook/session/sqlitestore"
)

// Stores holds ConnectBook's open databases and the services on them.
type Stores struct {
	DB       *data.DB
	Sessions *session.Manager
	Audit    *audit.Log
	Auth     *auth.Service
	closers  []func() error
}

// StoreOptions say which databases to open.
type StoreOptions struct {
	DB              string
	SessionStore    string
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	ClientIP        func(*http.Request) string
	Logger          *slog.Logger
	// Serving records where sessions live, for the other commands to check;
	// they refuse to run against a different session store.
	Serving bool
	// RedisPrefix is the Redis store's key prefix; its default if empty.
	RedisPrefix string
}

// sessionStoreSetting names the setting that records where sessions live.
const sessionStoreSetting = "session_store"

// OpenStores opens the database (migrating it) and the session store, and
// builds the services on them.
func OpenStores(ctx context.Context, o StoreOptions) (_ *Stores, err error) {
	s := &Stores{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.DB, err = data.Open(ctx, o.DB); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.DB.Close)
	if err := checkSessionStore(ctx, s.DB, o); err != nil {
		return nil, err
	}
	var st session.Store
	switch {
	case o.SessionStore != "":
		opt, err := redis.ParseURL(o.SessionStore)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		client := redis.NewClient(opt)
		s.closers = append(s.closers, client.Close)
		if err := client.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		rs, err := redisstore.New(client, redisstore.Options{Prefix: o.RedisPrefix})
		if err != nil {
			return nil, err
		}
		if err := rs.Check(ctx); err != nil {
			return nil, err
		}
		st = rs
	case s.DB.Postgres():
		pool, err := pgxpool.New(ctx, o.DB)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		s.closers = append(s.closers, func() error { pool.Close(); return nil })
		if st, err = pgstore.New(ctx, pool, pgstore.Options{}); err != nil {
			return nil, err
		}
	default:
		sq, err := sqlitestore.New(ctx, s.DB.SQL, sqlitestore.Options{})
		if err != nil {
			return nil, err
		}
		st = sq
		// Closed before the database it reads from.
		s.closers = append(s.closers, sq.Close)
	}
	s.Audit = &audit.Log{DB: s.DB, Logger: o.Logger, Now: time.Now}
	s.Sessions, err = session.New(st, session.Options{
		IdleTimeout:     o.IdleTimeout,
		AbsoluteTimeout: o.AbsoluteTimeout,
		ClientIP:        o.ClientIP,
		OnEvent:         s.Audit.SessionEvent,
		Logger:          o.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.Auth = auth.NewService(s.DB)
	return s, nil
}

// Close closes everything, last opened first.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// checkSessionStore records (when serving) or checks (otherwise) where
// sessions live, so that, say, "user passwd" run without --session-store
// cannot report ending sessions it never saw.
func checkSessionStore(ctx context.Context, db *data.DB, o StoreOptions) error {
	kind := "database"
	if o.SessionStore != "" {
		kind = "redis"
	}
	if o.Serving {
		return db.SetSetting(ctx, sessionStoreSetting, kind)
	}
	recorded, err := db.Setting(ctx, sessionStoreSetting)
	if errors.Is(err, data.ErrNotFound) {
		return nil // never served: nothing to disagree with
	}
	if err != nil {
		return err
	}
	if recorded != kind {
		if recorded == "redis" {
			return errors.New("ConnectBook keeps sessions in Redis for this database: pass --session-store redis://… (or set CONNECTBOOK_SESSION_STORE) as serve does")
		}
		return errors.New("ConnectBook keeps sessions in this database, not in Redis: leave --session-store (and CONNECTBOOK_SESSION_STORE) unset")
	}
	return nil
}
