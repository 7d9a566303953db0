package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/connectbook/connectbook/session"
	"github.com/connectbook/connectbook/session/sqlitestore"
)

// errBusy is returned when too many ConnectBook runs are under way.
var errBusy = errors.New("lab: the ConnectBook part is busy")

// cbSlots bounds how many ConnectBook runs (each a SQLite database with
// its connections) one lab serves at once; a run takes well under a second.
const cbSlots = 2

// cbEnv is one run of a walkthrough's steps against the real session
// package: a Manager of its own on a SQLite database of its own, in a
// temporary directory removed when the run ends. Nothing is shared
// between runs, so nothing leaks between visitors and nothing is kept.
type cbEnv struct {
	site http.Handler
	ctx  context.Context

	mu     sync.Mutex
	events []session.Event
}

// withConnectBook runs f against a fresh ConnectBook and cleans up.
func (a *app) withConnectBook(ctx context.Context, f func(*cbEnv)) error {
	select {
	case a.cbSlots <- struct{}{}:
		defer func() { <-a.cbSlots }()
	default:
		return errBusy
	}
	dir, err := os.MkdirTemp("", "connectbook-lab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := sqlitestore.Open(filepath.Join(dir, "sessions.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	// No memory map: the database holds a handful of rows for a second.
	st, err := sqlitestore.New(ctx, db, sqlitestore.Options{MmapSize: -1})
	if err != nil {
		return err
	}
	defer st.Close()
	env := &cbEnv{ctx: ctx}
	m, err := session.New(st, session.Options{
		DisableBinding: true, // no browser here to bind a key
		Logger:         slog.New(slog.DiscardHandler),
		OnEvent: func(_ context.Context, ev session.Event) {
			env.mu.Lock()
			env.events = append(env.events, ev)
			env.mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	env.site = connectbookSite(m, a.check)
	f(env)
	return nil
}

// connectbookSite is the variants' few pages on the session package, as
// internal/web uses it: no session before sign-in, Create at sign-in,
// Destroy at logout, and the Middleware in front of everything.
func connectbookSite(m *session.Manager, check func(user, password string) bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ConnectBook: log in to see your profile.")
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<form method="post" action="/login"><input name="username"><input type="password" name="password"></form>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "Bad request", http.StatusBadRequest)
			return
		}
		user := r.PostForm.Get("username")
		if !check(user, r.PostForm.Get("password")) {
			http.Error(w, "Invalid credentials", http.StatusUnauthorized)
			return
		}
		if _, err := m.Create(w, r, session.Login{UserID: user, Method: "password"}); err != nil {
			http.Error(w, "Could not sign in", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		user := session.UserID(r.Context())
		if user == "" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, "Welcome, %s!", user)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(w, r); err != nil && !errors.Is(err, session.ErrNoSession) {
			http.Error(w, "Could not sign out", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return m.Middleware(mux)
}

func (e *cbEnv) browser(who string, log *[]exchange) *browser {
	return &browser{ctx: e.ctx, h: e.site, who: who, log: log}
}

// reported returns the events so far as facts, and forgets them.
func (e *cbEnv) reported() []fact {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []fact
	for _, ev := range e.events {
		v := ev.Detail
		if ev.UserID != "" {
			v = fmt.Sprintf("user %s; %s", ev.UserID, v)
		}
		out = append(out, fact{Label: "Reported: " + string(ev.Kind), Value: v})
	}
	e.events = nil
	return out
}
