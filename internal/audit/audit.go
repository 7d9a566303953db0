// Package audit is ConnectBook's security event log: every event is stored
// in the database and logged through slog. Events never hold a raw session
// token or a password.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// Event kinds recorded by the app. Session events keep the session
// package's kinds (session_created, session_unknown_token, ...).
const (
	LoginSucceeded  = "login_succeeded"
	LoginFailed     = "login_failed"
	LoginThrottled  = "login_throttled"
	SignUpThrottled = "signup_throttled"
	Logout          = "logout"
	SignedUp        = "user_created"
	PasswordChanged = "password_changed"
	UserDeleted     = "user_deleted"
	CSRFRejected    = "csrf_rejected"
	Reauthenticated = "reauthenticated"
	ReauthFailed    = "reauth_failed"
	// SessionsRevokedAllUsers: an administrator ended every session of
	// every user.
	SessionsRevokedAllUsers = "sessions_revoked_all_users"
)

// knownKinds are every kind of event the app records.
var knownKinds = []string{
	LoginSucceeded, LoginFailed, LoginThrottled, SignUpThrottled, Logout, SignedUp, PasswordChanged, UserDeleted,
	CSRFRejected, Reauthenticated, ReauthFailed, SessionsRevokedAllUsers,
	string(session.EventCreated), string(session.EventRotated), string(session.EventDestroyed),
	string(session.EventExpired), string(session.EventRevoked), string(session.EventUnknownToken),
	string(session.EventEndedToken), string(session.EventClientChanged), string(session.EventEvicted),
	string(session.EventForeignToken), string(session.EventDuplicateCookie), string(session.EventTokenInURL),
	string(session.EventTokenReused), string(session.EventBound), string(session.EventBindingMissing),
	string(session.EventBindingRefused),
}

// Kinds returns every kind of event the app records, sorted.
func Kinds() []string {
	k := slices.Clone(knownKinds)
	slices.Sort(k)
	return k
}

// Limits on events that anyone can cause without signing in (a bogus
// cookie, a failed login): per kind and client address, at most burst of
// them are recorded per window; the rest are counted, and the count is
// noted on the next one recorded.
const (
	burst      = 20
	window     = time.Minute
	maxTracked = 10000
)

// Log records events.
type Log struct {
	DB     *data.DB
	Logger *slog.Logger
	Now    func() time.Time
	// Counted, if set, is told of every event, recorded or suppressed by
	// the per-client limit.
	Counted func(kind string, suppressed bool)

	mu      sync.Mutex
	windows map[string]*rateWindow
}

type rateWindow struct {
	start      time.Time
	n          int
	suppressed int
}

// noisy are the kinds an anonymous client can produce at will.
var noisy = map[string]bool{
	LoginFailed: true, LoginThrottled: true, SignUpThrottled: true, CSRFRejected: true,
	string(session.EventUnknownToken): true, string(session.EventDuplicateCookie): true,
	string(session.EventTokenInURL): true, string(session.EventExpired): true,
	string(session.EventEndedToken): true,
}

// admit applies the rate limit to anonymous noisy events. It reports
// whether to record e, and how many similar events were suppressed since
// the last one recorded.
func (l *Log) admit(e data.Event) (bool, int) {
	// A replayed token of an ended session names its user, and a failed
	// sign-in the account it failed on, but anyone can cause them at will.
	if !noisy[e.Kind] || e.UserID != 0 && e.Kind != string(session.EventEndedToken) && e.Kind != LoginFailed {
		return true, 0
	}
	key := e.Kind + " " + e.ClientIP
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows == nil || len(l.windows) >= maxTracked {
		l.windows = make(map[string]*rateWindow)
	}
	w := l.windows[key]
	if w == nil || e.At.Sub(w.start) >= window {
		suppressed := 0
		if w != nil {
			suppressed = w.suppressed
		}
		l.windows[key] = &rateWindow{start: e.At, n: 1}
		return true, suppressed
	}
	if w.n >= burst {
		w.suppressed++
		if w.suppressed == 1 {
			l.Logger.Warn("security events suppressed", "event", e.Kind, "client_ip", e.ClientIP,
				"limit", fmt.Sprintf("%d per %v", burst, window))
		}
		return false, 0
	}
	w.n++
	suppressed := w.suppressed
	w.suppressed = 0
	return true, suppressed
}

// Record stores e and logs it. A failure to store is logged, not returned:
// the request that caused the event goes on. Events an anonymous client
// can cause at will are rate-limited per client address.
func (l *Log) Record(ctx context.Context, e data.Event) {
	if e.At.IsZero() {
		e.At = l.Now().UTC()
	}
	ok, suppressed := l.admit(e)
	if l.Counted != nil {
		l.Counted(e.Kind, !ok)
	}
	if !ok {
		return
	}
	if suppressed > 0 {
		e.Detail = strings.TrimSpace(e.Detail + fmt.Sprintf(" (and %d more like it, not recorded)", suppressed))
	}
	level := slog.LevelInfo
	switch e.Kind {
	case LoginFailed, LoginThrottled, SignUpThrottled, CSRFRejected, ReauthFailed, string(session.EventUnknownToken),
		string(session.EventDuplicateCookie), string(session.EventTokenInURL), string(session.EventEndedToken),
		string(session.EventForeignToken), string(session.EventClientChanged), string(session.EventTokenReused),
		string(session.EventBindingMissing), string(session.EventBindingRefused):
		level = slog.LevelWarn
	}
	name := e.Username
	if level == slog.LevelWarn && e.UserID == 0 {
		// A name typed at a failed sign-in may be a password typed in the
		// wrong field: logs, which travel further than the event table,
		// get a hint of it only.
		name = maskName(name)
	}
	l.Logger.LogAttrs(ctx, level, "security event",
		slog.String("event", e.Kind),
		slog.Int64("user_id", e.UserID),
		slog.String("username", name),
		slog.String("client_ip", e.ClientIP),
		slog.String("user_agent", e.UserAgent),
		slog.String("session", e.Session),
		slog.String("detail", e.Detail))
	if err := l.DB.InsertEvent(context.WithoutCancel(ctx), e); err != nil {
		l.Logger.ErrorContext(ctx, "storing security event", "event", e.Kind, "err", err)
	}
}

// SessionEvent records an event of the session manager about the user
// with ID uid (0 when none is known); the app's OnEvent hook calls it.
func (l *Log) SessionEvent(ctx context.Context, ev session.Event, uid int64) {
	l.Record(ctx, data.Event{
		At:        ev.Time,
		Kind:      string(ev.Kind),
		UserID:    uid,
		ClientIP:  ev.ClientIP,
		UserAgent: ev.UserAgent,
		Session:   ev.Session,
		Detail:    ev.Detail,
	})
}

// maskName keeps the first two characters of a name typed by a client and
// its length: "al… (5 characters)".
func maskName(s string) string {
	r := []rune(s)
	if len(r) == 0 || s == "(not a username)" {
		return s
	}
	return fmt.Sprintf("%s… (%d characters)", string(r[:min(2, len(r))]), len(r))
}
