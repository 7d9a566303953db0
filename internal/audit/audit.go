// Package audit is ConnectBook's security event log: every event is stored
// in the database and logged through slog. Events never hold a raw session
// token or a password.
package audit

import (
	"context"
	"log/slog"
	"strconv"
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
	Logout          = "logout"
	SignedUp        = "user_created"
	PasswordChanged = "password_changed"
	UserDeleted     = "user_deleted"
	CSRFRejected    = "csrf_rejected"
)

// Log records events.
type Log struct {
	DB     *data.DB
	Logger *slog.Logger
	Now    func() time.Time
}

// Record stores e and logs it. A failure to store is logged, not returned:
// the request that caused the event goes on.
func (l *Log) Record(ctx context.Context, e data.Event) {
	if e.At.IsZero() {
		e.At = l.Now().UTC()
	}
	level := slog.LevelInfo
	switch e.Kind {
	case LoginFailed, LoginThrottled, CSRFRejected, string(session.EventUnknownToken),
		string(session.EventDuplicateCookie), string(session.EventTokenInURL):
		level = slog.LevelWarn
	}
	l.Logger.LogAttrs(ctx, level, "security event",
		slog.String("event", e.Kind),
		slog.Int64("user_id", e.UserID),
		slog.String("username", e.Username),
		slog.String("client_ip", e.ClientIP),
		slog.String("user_agent", e.UserAgent),
		slog.String("session", e.Session),
		slog.String("detail", e.Detail))
	if err := l.DB.InsertEvent(context.WithoutCancel(ctx), e); err != nil {
		l.Logger.ErrorContext(ctx, "storing security event", "event", e.Kind, "err", err)
	}
}

// SessionEvent records an event of the session manager; it is the
// manager's OnEvent hook.
func (l *Log) SessionEvent(ctx context.Context, ev session.Event) {
	uid, _ := strconv.ParseInt(ev.UserID, 10, 64)
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
