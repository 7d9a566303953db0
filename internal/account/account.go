// Package account holds every account use case in one place — signing up,
// in and out, re-authenticating, changing the password, deleting the
// account, reviewing and ending sessions, reading one's security activity
// and notices — for the web handlers and the CLI alike, so that the two
// cannot drift apart.
//
// Guarantees:
//   - No session survives a password change, an account deletion or an
//     administrator's "revoke all": each moves the user's credential epoch
//     on, sessions carry the epoch they were issued for, a sign-in checks
//     the epoch after storing its session (session.Options.Epoch), and a
//     session behind its user's epoch is ended on use.
//   - Sensitive actions (deleting the account, signing out everywhere else)
//     need a recent proof of the password in the same session ("sudo
//     mode"); re-authenticating rotates the session's token.
//   - Everything is owner-scoped: a user names only their own sessions and
//     notices; someone else's is reported as not found.
//   - The web layer never receives a password hash.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// Defaults.
const (
	// DefaultSudoWindow is how long a sign-in or re-authentication lets a
	// session take sensitive actions without asking for the password.
	DefaultSudoWindow = 10 * time.Minute
	// ActivityRetention is how far back the security activity goes; events
	// are kept this long.
	ActivityRetention = 90 * 24 * time.Hour
	// knownDeviceAge is how long a browser and system stay known: a sign-in
	// with one not used for longer is announced to the other sessions.
	knownDeviceAge = 90 * 24 * time.Hour
)

// Service runs the account use cases.
type Service struct {
	DB       *data.DB
	Auth     *auth.Service
	Sessions *session.Manager
	Audit    *audit.Log
	Logger   *slog.Logger
	// ClientIP gives a request's client address (behind a proxy, the one it
	// forwarded).
	ClientIP func(*http.Request) string
	Now      func() time.Time
	// SudoWindow is DefaultSudoWindow if zero.
	SudoWindow time.Duration
	// OnLogin, if set, is told the outcome of each sign-in with a
	// password, one of LoginOutcomes.
	OnLogin func(outcome string)

	users *userCache
}

// New returns a Service. Sessions may be nil at first, for wiring the
// session manager's Epoch hook to s.Epoch; set it before use.
func New(s Service) *Service {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.SudoWindow == 0 {
		s.SudoWindow = DefaultSudoWindow
	}
	if s.ClientIP == nil {
		s.ClientIP = session.RemoteIP
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.users = newUserCache(2*time.Second, 10000)
	return &s
}

// UserKey is the session package's user ID for a user.
func UserKey(id int64) string { return strconv.FormatInt(id, 10) }

// UserID parses a session user key.
func UserID(key string) (int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("account: bad user key %q", key)
	}
	return id, nil
}

// Epoch returns a user's current credential epoch, read from the database;
// it is the session manager's Options.Epoch.
func (s *Service) Epoch(ctx context.Context, userKey string) (int64, error) {
	id, err := UserID(userKey)
	if err != nil {
		return 0, err
	}
	return s.DB.Epoch(ctx, id)
}

// Error is a failure caused by the request, with a message for the person
// who made it. Anything else a Service method returns is an internal error.
type Error struct {
	Status     int    // the HTTP status to answer with
	Field      string // the form field at fault, if any
	Message    string // safe to show
	RetryAfter time.Duration
	cause      error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return "account: " + e.Message + ": " + e.cause.Error()
	}
	return "account: " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// Errors callers may test for with errors.Is.
var (
	// ErrSudoRequired: the action needs the password confirmed first.
	ErrSudoRequired = &Error{Status: http.StatusForbidden, Message: "Confirm your password to continue."}
	// ErrNotFound: no such session or notice of the user's.
	ErrNotFound = &Error{Status: http.StatusNotFound, Message: "There is no such session among yours. It may have ended already."}
	// ErrSignedOut: the request's session ended while it was served.
	ErrSignedOut = &Error{Status: http.StatusUnauthorized, Message: "You have been signed out. Please sign in again."}
	// ErrStale: the user's credentials changed during the sign-in.
	ErrStale = &Error{Status: http.StatusConflict, Message: "The password of this account changed while you were signing in. Please sign in again."}
	// ErrClientBusy: the client's network has its share of password
	// hashing in use.
	ErrClientBusy = &Error{Status: http.StatusTooManyRequests, Message: "Too many sign-ins from your network at once. Please try again in a moment.", RetryAfter: time.Second}
	// ErrBusy: password hashing is at capacity.
	ErrBusy = &Error{Status: http.StatusServiceUnavailable, Message: "ConnectBook is handling a lot of sign-ins at the moment. Please try again in a few seconds.", RetryAfter: 2 * time.Second}
)

func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.Message == e.Message
}

// fromAuth turns the auth package's errors about a request into *Error.
func fromAuth(err error, field string) error {
	var ie *auth.InputError
	var te *auth.ThrottledError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return &Error{Status: http.StatusUnprocessableEntity, Field: ie.Field, Message: ie.Message, cause: err}
	case errors.As(err, &te):
		return &Error{Status: http.StatusTooManyRequests, Field: field, RetryAfter: te.RetryAfter, cause: err,
			Message: throttledMessage(te)}
	case errors.Is(err, auth.ErrClientBusy):
		return ErrClientBusy
	case errors.Is(err, auth.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnauthorized, Field: field, Message: "Invalid username or password.", cause: err}
	case errors.Is(err, auth.ErrBusy):
		return ErrBusy
	}
	return err
}

// throttledMessage says why an attempt was refused and how long to wait.
func throttledMessage(te *auth.ThrottledError) string {
	wait := waitText(te.RetryAfter)
	switch te.Scope {
	case data.ScopeSignUp:
		return "Too many accounts were created from your network in the last hour. Please try again in " + wait + "."
	case data.ScopeSignInAccount:
		return "There have been many sign-ins to this account from your network in the last few minutes. Please wait " + wait + " and try again."
	case data.ScopeSignInAnyNet:
		return "There have been many sign-ins to this account in the last few minutes. Please wait " + wait + " and try again."
	case data.ScopeSignInNetwork:
		return "There have been many sign-ins from your network in the last few minutes. Please wait " + wait + " and try again."
	}
	return "Too many failed attempts. Please wait " + wait + " and try again."
}

// waitText says a wait in words: seconds up to two minutes, then minutes.
func waitText(d time.Duration) string {
	if d <= 2*time.Minute {
		return plural(int((d+time.Second-1)/time.Second), "second")
	}
	return plural(int((d+time.Minute-1)/time.Minute), "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// current returns the request's session and user, or ErrSignedOut.
func (s *Service) current(r *http.Request) (session.Session, int64, error) {
	sess, ok := session.FromContext(r.Context())
	if !ok {
		return session.Session{}, 0, ErrSignedOut
	}
	id, err := UserID(sess.UserID)
	if err != nil {
		return session.Session{}, 0, ErrSignedOut
	}
	return sess, id, nil
}

// event starts a security event about the request.
func (s *Service) event(r *http.Request, kind, detail string) data.Event {
	e := data.Event{Kind: kind, ClientIP: s.ClientIP(r), UserAgent: clip(r.UserAgent(), 512), Detail: detail}
	if sess, ok := session.FromContext(r.Context()); ok {
		e.Session = sess.Handle.Short()
		e.UserID, _ = UserID(sess.UserID)
	}
	return e
}

// clip shortens s to n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return toValidUTF8(s)
}
