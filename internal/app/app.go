// Package app builds the whole of ConnectBook from its settings: the
// database, the session store, and the services and web handler on them. The
// CLI and the tests build the app the same way, through Open.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/feed"
	"github.com/connectbook/connectbook/internal/follow"
	"github.com/connectbook/connectbook/internal/metrics"
	"github.com/connectbook/connectbook/internal/notify"
	"github.com/connectbook/connectbook/internal/post"
	"github.com/connectbook/connectbook/internal/web"
	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/pgstore"
	"github.com/connectbook/connectbook/session/redisstore"
	"github.com/connectbook/connectbook/session/sqlitestore"
)

// Options say which databases to open and how the app behaves.
type Options struct {
	DB           string // SQLite file path or postgres:// URL
	SessionStore string // "" for the database, or a redis:// URL
	RedisPrefix  string // the Redis store's key prefix; its default if empty

	IdleTimeout     time.Duration // session defaults if zero
	AbsoluteTimeout time.Duration
	ReauthWindow    time.Duration // account.DefaultSudoWindow if zero
	MaxSessions     int           // session.DefaultMaxSessions if zero; negative: no limit
	// RotationInterval: session.DefaultRotationInterval if zero; negative:
	// no rotation.
	RotationInterval time.Duration
	// NoDBSC turns Device Bound Session Credentials off.
	NoDBSC bool
	// BoundCookieLifetime: session.DefaultBoundCookieLifetime if zero.
	BoundCookieLifetime time.Duration
	// StoreTimeout bounds each session store call;
	// session.DefaultStoreTimeout if zero.
	StoreTimeout time.Duration
	// SignUpsPerHour limits accounts created per client network and hour;
	// auth.DefaultSignUpsPerHour if zero, negative for no limit.
	SignUpsPerHour int
	// SignInsPerAccount and SignInsPerNetwork limit successful sign-ins
	// per ten minutes (to one account from one network, and from one
	// network); the auth package's policies if zero.
	SignInsPerAccount, SignInsPerNetwork int

	TLS         bool // the app serves HTTPS itself (HSTS)
	BehindProxy bool // trust a reverse proxy's forwarding headers
	Logger      *slog.Logger
	// Now is the clock of everything time-based; time.Now if nil.
	Now func() time.Time
	// Hasher hashes passwords; the default parameters and limits if nil.
	Hasher *auth.Hasher
	// Admin makes Open check that the session store is the one serve
	// recorded (see RecordStore), and refuse another.
	Admin bool
	// NoMetrics leaves App.Metrics nil: nothing is counted. serve sets it
	// unless it serves the metrics (--metrics-addr), for counting what no
	// one can read costs on every request.
	NoMetrics bool
}

// App is ConnectBook, open on its stores.
type App struct {
	DB       *data.DB
	Sessions *session.Manager
	Audit    *audit.Log
	Auth     *auth.Service
	Account  *account.Service
	// Metrics counts what the app does, for Prometheus; nil with
	// Options.NoMetrics.
	Metrics *metrics.Metrics

	opts     Options
	storeID  string // the session store's identity, as RecordStore records it
	store    session.Store
	draining atomic.Bool
	closers  []func() error
}

// sessionStoreSetting names the setting that records where sessions live.
const sessionStoreSetting = "session_store"

// Open opens the database (migrating it) and the session store, and builds
// the services on them.
func Open(ctx context.Context, o Options) (_ *App, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &App{opts: o}
	if !o.NoMetrics {
		a.Metrics = metrics.New(metrics.Labels{
			SecurityEvents: audit.Kinds(), ThrottleScopes: data.Scopes, LoginOutcomes: account.LoginOutcomes})
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err = restrictDBFiles(o.DB, o.Logger); err != nil {
		return nil, err
	}
	if a.DB, err = data.Open(ctx, o.DB); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.DB.Close)
	var recorded string
	if o.Admin {
		// The kind of store is checked before connecting, so that a
		// command pointed at Redis that serve does not use says so even
		// when that Redis is not there.
		if recorded, err = a.recordedStore(ctx); err != nil {
			return nil, err
		}
	}
	st, err := a.openSessionStore(ctx)
	if err != nil {
		return nil, err
	}
	a.store = a.Metrics.Store(st, a.storeKind())
	if o.Admin {
		if err := a.checkStore(recorded); err != nil {
			return nil, err
		}
	}
	clientIP := web.ClientIP(o.BehindProxy)
	// Security events are a stream of their own in the log, apart from
	// the access log's lines.
	a.Audit = &audit.Log{DB: a.DB, Logger: o.Logger.With("stream", "security"), Now: o.Now, Counted: a.Metrics.SecurityEvent}
	a.Auth = auth.NewService(a.DB)
	a.Auth.Now = o.Now
	if o.SignUpsPerHour != 0 {
		a.Auth.SignUpsPerHour = o.SignUpsPerHour
	}
	if o.SignInsPerAccount > 0 {
		a.Auth.SignInAccount.Free = o.SignInsPerAccount
	}
	if o.SignInsPerNetwork > 0 {
		a.Auth.SignInNetwork.Free = o.SignInsPerNetwork
	}
	if o.Hasher != nil {
		a.Auth.Hasher = o.Hasher
	}
	a.Auth.OnThrottled = a.Metrics.Throttled
	a.Metrics.Hashing(a.Auth.Hasher.Stats)
	a.Account = account.New(account.Service{DB: a.DB, Auth: a.Auth, Audit: a.Audit, Logger: o.Logger,
		ClientIP: clientIP, Now: o.Now, SudoWindow: o.ReauthWindow, OnLogin: a.Metrics.Login})
	a.Sessions, err = session.New(a.store, session.Options{
		IdleTimeout:         o.IdleTimeout,
		AbsoluteTimeout:     o.AbsoluteTimeout,
		MaxSessions:         o.MaxSessions,
		RotationInterval:    o.RotationInterval,
		DisableBinding:      o.NoDBSC,
		BoundCookieLifetime: o.BoundCookieLifetime,
		StoreTimeout:        o.StoreTimeout,
		// A stalled store fails the request closed, with the site's own
		// page (the middleware has logged why).
		OnError:  func(w http.ResponseWriter, r *http.Request, _ error) { web.Unavailable(w, r) },
		Now:      o.Now,
		ClientIP: clientIP,
		OnSweep:  a.Metrics.SessionsSwept,
		OnEvent: func(ctx context.Context, ev session.Event) {
			a.Metrics.SessionEvent(ev)
			a.Account.SessionEvent(ctx, ev)
		},
		ClientChanged: account.ClientChanged,
		Logger:        o.Logger,
		Epoch:         a.Account.Epoch,
	})
	if err != nil {
		return nil, err
	}
	a.Account.Sessions = a.Sessions
	return a, nil
}

// Handler returns the web app.
func (a *App) Handler() http.Handler {
	now := a.opts.Now
	if now == nil {
		now = time.Now
	}
	follows := &follow.Service{DB: a.DB, Now: now, Changed: a.Account.Forget}
	return web.New(web.Deps{
		Account: a.Account, Sessions: a.Sessions, Audit: a.Audit, Logger: a.opts.Logger,
		Posts:  &post.Service{DB: a.DB, Follow: follows, Now: now, Changed: a.Account.Forget},
		Follow: follows, Feed: &feed.Service{DB: a.DB}, Notify: &notify.Service{DB: a.DB, Changed: a.Account.Forget},
		TLS: a.opts.TLS, BehindProxy: a.opts.BehindProxy, Now: a.opts.Now, Ready: a.Ready, Metrics: a.Metrics,
		Draining: a.draining.Load,
	})
}

// storeKind names the session store's kind: redis, postgres or sqlite.
func (a *App) storeKind() string {
	switch {
	case a.opts.SessionStore != "":
		return "redis"
	case a.DB.Postgres():
		return "postgres"
	}
	return "sqlite"
}

// Drain makes Ready fail from now on, and each response close its
// connection: the instance is shutting down.
func (a *App) Drain() { a.draining.Store(true) }

// Ready reports whether the database and the session store each answer
// within the store timeout: the first runs a query, the second looks up a
// session that cannot exist. The error names the one that did not answer.
func (a *App) Ready(ctx context.Context) error {
	if a.draining.Load() {
		return &web.NotReady{Part: "this instance", Shutting: true}
	}
	timeout := a.opts.StoreTimeout
	if timeout <= 0 {
		timeout = session.DefaultStoreTimeout
	}
	dbCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := a.DB.Ping(dbCtx); err != nil {
		return &web.NotReady{Part: "the database", Within: timeout, Err: err}
	}
	storeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := a.store.Find(storeCtx, session.ID{}); err != nil && !errors.Is(err, session.ErrNotFound) {
		return &web.NotReady{Part: "the session store", Within: timeout, Err: err}
	}
	return nil
}

func (a *App) openSessionStore(ctx context.Context) (session.Store, error) {
	o := a.opts
	switch {
	case o.SessionStore != "":
		opt, err := redis.ParseURL(o.SessionStore)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		// Calls end at their context's deadline (the store timeout), not
		// the client's own, longer ones.
		opt.ContextTimeoutEnabled = true
		client := redis.NewClient(opt)
		a.closers = append(a.closers, client.Close)
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
		// Serve makes the store's identity; the admin commands only read it.
		id, err := rs.Identity(ctx, !o.Admin)
		switch {
		case errors.Is(err, session.ErrNotFound):
			a.storeID = ""
		case err != nil:
			return nil, fmt.Errorf("session store: %w", err)
		default:
			a.storeID = "redis:" + id
		}
		return rs, nil
	case a.DB.Postgres():
		pool, err := pgxpool.New(ctx, o.DB)
		if err != nil {
			return nil, fmt.Errorf("session store: %w", err)
		}
		a.closers = append(a.closers, func() error { pool.Close(); return nil })
		a.storeID = "database"
		return pgstore.New(ctx, pool, pgstore.Options{})
	default:
		sq, err := sqlitestore.New(ctx, a.DB.SQL, sqlitestore.Options{})
		if err != nil {
			return nil, err
		}
		// Closed before the database it reads from.
		a.closers = append(a.closers, sq.Close)
		a.storeID = "database"
		return sq, nil
	}
}

// RecordStore records in the database which session store serve uses, for
// the admin commands to check. Serve calls it once it is connected and
// listening, so that a serve that fails to start records nothing.
func (a *App) RecordStore(ctx context.Context) error {
	return a.DB.SetSetting(ctx, sessionStoreSetting, a.storeID)
}

// recordedStore returns the session store serve recorded ("" if serve
// never ran), and refuses a store of the other kind.
func (a *App) recordedStore(ctx context.Context) (string, error) {
	recorded, err := a.DB.Setting(ctx, sessionStoreSetting)
	if errors.Is(err, data.ErrNotFound) {
		return "", nil // never served: nothing to disagree with
	}
	if err != nil {
		return "", err
	}
	switch {
	case recorded == "database" && a.opts.SessionStore != "":
		return "", errors.New("ConnectBook keeps sessions in this database, not in Redis: leave --session-store (and CONNECTBOOK_SESSION_STORE) unset")
	case recorded != "database" && a.opts.SessionStore == "":
		return "", errors.New("ConnectBook keeps sessions in Redis for this database: pass --session-store redis://… (or set CONNECTBOOK_SESSION_STORE) as serve does")
	}
	return recorded, nil
}

// checkStore refuses a session store other than the one serve recorded,
// so that, say, "user passwd" pointed at another Redis (or database number,
// or key prefix) cannot report ending sessions it never saw.
func (a *App) checkStore(recorded string) error {
	switch {
	case recorded == "" || recorded == a.storeID:
		return nil
	case recorded == "redis" && strings.HasPrefix(a.storeID, "redis:"):
		return nil // recorded before stores had identities
	}
	return errors.New("this Redis (its address, database number or key prefix) is not the session store serve uses for this database: pass the same --session-store URL as serve")
}

// Close closes everything, last opened first.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
