package account

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// How a session signed in, as Session.Method.
const (
	MethodPassword = "password"
	MethodSignUp   = "signup"
)

// SignUp creates an account and signs the browser in to it.
func (s *Service) SignUp(w http.ResponseWriter, r *http.Request, username, password, confirm string) (data.User, error) {
	ctx := auth.ForClient(r.Context(), s.ClientIP(r))
	username = strings.TrimSpace(username) // a space typed or pasted around it is no part of a name
	user, err := s.Auth.SignUp(ctx, username, password, confirm)
	var throttled *auth.ThrottledError
	if errors.As(err, &throttled) {
		s.Audit.Record(ctx, s.event(r, audit.SignUpThrottled, "the client's network reached its sign-ups for the hour"))
	}
	if err != nil {
		return data.User{}, fromAuth(err, "")
	}
	e := s.event(r, audit.SignedUp, "")
	e.UserID, e.Username = user.ID, user.Username
	s.Audit.Record(ctx, e)
	sess, err := s.Sessions.Create(w, r, session.Login{UserID: UserKey(user.ID), Epoch: user.Epoch, Method: MethodSignUp})
	if err != nil {
		return data.User{}, s.createError(err)
	}
	if _, err := s.DB.SeenDevice(ctx, user.ID, ParseDevice(r.UserAgent()).Label(), sess.CreatedAt); err != nil {
		s.Logger.ErrorContext(ctx, "recording a sign-in device", "user_id", user.ID, "err", err)
	}
	return user, nil
}

// AddUser creates an account from the command line.
func (s *Service) AddUser(ctx context.Context, username, password, confirm string) (data.User, error) {
	user, err := s.Auth.SignUp(ctx, username, password, confirm)
	if err != nil {
		return data.User{}, fromAuth(err, "")
	}
	s.adminEvent(ctx, audit.SignedUp, user.ID, user.Username, "created by an administrator")
	return user, nil
}

// LogIn checks a username and password (throttled, the same work for
// unknown users), records the attempt, and signs the browser in. A sign-in
// from a browser and system the user has not used for 90 days is announced
// to the user's other sessions.
func (s *Service) LogIn(w http.ResponseWriter, r *http.Request, username, password string) (_ data.User, err error) {
	if s.OnLogin != nil {
		defer func() { s.OnLogin(loginOutcome(err)) }()
	}
	ctx := r.Context()
	username = strings.TrimSpace(username)
	p, err := s.Auth.Login(ctx, username, password, s.ClientIP(r))
	var throttled *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		// Recorded on the account whose password was wrong (its ID, so that
		// whoever takes the username later does not inherit the record).
		e := s.event(r, audit.LoginFailed, "invalid username or password")
		e.UserID, e.Username = p.UserID, eventUsername(username)
		s.Audit.Record(ctx, e)
	case errors.As(err, &throttled):
		e := s.event(r, audit.LoginThrottled, throttleDetail(throttled.Scope))
		e.UserID, e.Username = 0, eventUsername(username)
		s.Audit.Record(ctx, e)
	}
	if err != nil {
		return data.User{}, fromAuth(err, "password")
	}
	sess, err := s.Sessions.Create(w, r, session.Login{UserID: UserKey(p.UserID), Epoch: p.Epoch, Method: MethodPassword})
	if err != nil {
		return data.User{}, s.createError(err)
	}
	e := s.event(r, audit.LoginSucceeded, "")
	e.UserID, e.Username, e.Session = p.UserID, p.Username, sess.Handle.Short()
	s.Audit.Record(ctx, e)
	s.announceSignIn(ctx, r, p.UserID, sess)
	user, err := s.DB.UserByID(ctx, p.UserID)
	if errors.Is(err, data.ErrNotFound) {
		return data.User{}, ErrStale
	}
	return user, err
}

// Outcomes of a sign-in with a password, for OnLogin.
const (
	LoginSucceeded = "succeeded" // signed in
	LoginFailed    = "failed"    // wrong username or password
	LoginThrottled = "throttled" // refused by a throttle before the password was checked
	LoginBusy      = "busy"      // password hashing at capacity, or the client's share of it in use
	LoginRefused   = "refused"   // refused otherwise (the account changed meanwhile), or the client went away
	LoginError     = "error"     // the server failed (a database or session store error)
)

// LoginOutcomes are every outcome OnLogin is told.
var LoginOutcomes = []string{LoginSucceeded, LoginFailed, LoginThrottled, LoginBusy, LoginRefused, LoginError}

// loginOutcome classifies LogIn's error.
func loginOutcome(err error) string {
	var e *Error
	var throttled *auth.ThrottledError
	switch {
	case err == nil:
		return LoginSucceeded
	case errors.Is(err, auth.ErrInvalidCredentials):
		return LoginFailed
	case errors.As(err, &throttled):
		return LoginThrottled
	case errors.Is(err, ErrBusy), errors.Is(err, ErrClientBusy):
		return LoginBusy
	case errors.As(err, &e), errors.Is(err, context.Canceled):
		return LoginRefused
	}
	return LoginError
}

func (s *Service) createError(err error) error {
	switch {
	case errors.Is(err, data.ErrNotFound): // the account was deleted meanwhile
		return &Error{Status: http.StatusUnauthorized, Field: "password", Message: "Invalid username or password.", cause: err}
	case errors.Is(err, session.ErrStaleEpoch):
		return &Error{Status: ErrStale.Status, Message: ErrStale.Message, cause: err}
	}
	return err
}

// announceSignIn makes a "new sign-in" notice when the device is new to
// the user. Failing to is logged: the sign-in stands.
func (s *Service) announceSignIn(ctx context.Context, r *http.Request, uid int64, sess session.Session) {
	device := ParseDevice(r.UserAgent()).Label()
	// The very first device of an account (one an administrator created,
	// say) is nothing new to warn about.
	known, err := s.DB.KnownDevices(ctx, uid)
	var last time.Time
	if err == nil {
		last, err = s.DB.SeenDevice(ctx, uid, device, sess.CreatedAt)
	}
	if err == nil && known > 0 && (last.IsZero() || sess.CreatedAt.Sub(last) > knownDeviceAge) {
		_, err = s.DB.CreateNotice(ctx, data.Notice{UserID: uid, Kind: NoticeNewSignIn, CreatedAt: sess.CreatedAt,
			Session: sess.Handle.String(), Device: device, ClientIP: sess.CreatedIP})
		s.users.drop(uid)
	}
	if err != nil {
		s.Logger.ErrorContext(ctx, "announcing a sign-in", "user_id", uid, "err", err)
	}
}

// eventUsername is what a login event records of a typed username: the
// username, or a marker when the text could not be one (people type their
// password into the wrong field).
func eventUsername(typed string) string {
	u, err := auth.NormalizeUsername(typed)
	if err != nil {
		return "(not a username)"
	}
	return u
}

// LogOut ends the request's session.
func (s *Service) LogOut(w http.ResponseWriter, r *http.Request) error {
	e := s.event(r, audit.Logout, "")
	if err := s.Sessions.Destroy(w, r); err != nil {
		return err
	}
	s.Audit.Record(r.Context(), e)
	return nil
}

// SudoUntil returns until when the request's session may take sensitive
// actions without confirming the password (zero or past: it must confirm).
func (s *Service) SudoUntil(r *http.Request) time.Time {
	sess, ok := session.FromContext(r.Context())
	if !ok || sess.AuthAt.IsZero() {
		return time.Time{}
	}
	return sess.AuthAt.Add(s.SudoWindow)
}

// InSudo reports whether the request's session proved the password within
// the sudo window.
func (s *Service) InSudo(r *http.Request) bool {
	until := s.SudoUntil(r)
	now := s.Now()
	sess, _ := session.FromContext(r.Context())
	return now.Before(until) && !now.Before(sess.AuthAt)
}

// sudo makes sure the request's session is in sudo mode: outside it, a
// password given with the request re-authenticates the session first
// (rotating its token); without one, it is ErrSudoRequired.
func (s *Service) sudo(w http.ResponseWriter, r *http.Request, password string) error {
	if s.InSudo(r) {
		return nil
	}
	if password == "" {
		return ErrSudoRequired
	}
	return s.Reauthenticate(w, r, password)
}

// Reauthenticate checks the signed-in user's password again (it counts
// toward throttling like a sign-in) and, if it is right, rotates the
// session's token and opens the sudo window.
func (s *Service) Reauthenticate(w http.ResponseWriter, r *http.Request, password string) error {
	_, uid, err := s.current(r)
	if err != nil {
		return err
	}
	p, err := s.verify(r, uid, password)
	if err != nil {
		return err
	}
	if _, err := s.Sessions.Reauthenticated(w, r, p.Epoch); err != nil {
		return s.rotateError(err)
	}
	s.Audit.Record(r.Context(), s.event(r, audit.Reauthenticated, "password confirmed"))
	return nil
}

// verify checks the password of user uid for a signed-in request, through
// the same throttled path as a sign-in. A wrong password is recorded.
func (s *Service) verify(r *http.Request, uid int64, password string) (auth.Principal, error) {
	ctx := r.Context()
	u, err := s.DB.UserByID(ctx, uid)
	if errors.Is(err, data.ErrNotFound) {
		return auth.Principal{}, ErrSignedOut
	}
	if err != nil {
		return auth.Principal{}, err
	}
	p, err := s.Auth.Reauthenticate(ctx, u.Username, password, s.ClientIP(r))
	if err == nil && p.UserID != uid {
		err = auth.ErrInvalidCredentials // the username now names another account
	}
	var throttled *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		s.Audit.Record(ctx, s.event(r, audit.ReauthFailed, "wrong password"))
		return auth.Principal{}, &Error{Status: http.StatusUnauthorized, Field: "password", Message: "That password is not right.", cause: err}
	case errors.As(err, &throttled):
		s.Audit.Record(ctx, s.event(r, audit.LoginThrottled, throttleDetail(throttled.Scope)))
	}
	return p, fromAuth(err, "password")
}

func (s *Service) rotateError(err error) error {
	switch {
	case errors.Is(err, session.ErrNotFound), errors.Is(err, session.ErrNoSession):
		return &Error{Status: ErrSignedOut.Status, Message: ErrSignedOut.Message, cause: err}
	case errors.Is(err, session.ErrStaleEpoch), errors.Is(err, data.ErrNotFound):
		return &Error{Status: http.StatusUnauthorized, Message: "Your password was changed meanwhile, so you have been signed out. Please sign in again.", cause: err}
	}
	return err
}

// adminEvent records an event caused from the command line.
func (s *Service) adminEvent(ctx context.Context, kind string, uid int64, username, detail string) {
	s.Audit.Record(ctx, data.Event{Kind: kind, UserID: uid, Username: username, ClientIP: "command line", Detail: detail})
}

// throttleDetail says in the event log why a sign-in was refused.
func throttleDetail(scope string) string {
	switch scope {
	case data.ScopeSignInAccount:
		return "too many successful sign-ins to this account from this network in a short time"
	case data.ScopeSignInAnyNet:
		return "too many successful sign-ins to this account in a short time"
	case data.ScopeSignInNetwork:
		return "too many successful sign-ins from this network in a short time"
	}
	return "too many failed sign-ins for this " + scope
}
