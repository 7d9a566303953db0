package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// ChangePassword sets a new password for the signed-in user after checking
// the current one (throttled like a sign-in). Every other session of the
// user ends, and this one continues under a new token. It returns how many
// other sessions ended.
//
// The order is what makes "no session survives" hold against sign-ins in
// flight with the old password: the new hash and epoch are stored first,
// then every session but this one is deleted; a sign-in that verified the
// old password either stored its session before the deletion (and loses
// it) or checks the epoch after it (and is refused).
func (s *Service) ChangePassword(w http.ResponseWriter, r *http.Request, current, password, confirm string) (int, error) {
	sess, uid, err := s.current(r)
	if err != nil {
		return 0, err
	}
	ctx := r.Context()
	user, err := s.DB.UserByID(ctx, uid)
	if err != nil {
		return 0, s.userError(err)
	}
	// The new password's problems first: nobody should spend a throttled
	// attempt on a form that cannot succeed.
	if err := auth.CheckNewPassword(password, confirm, user.Username); err != nil {
		return 0, fromAuth(err, "")
	}
	if password == current {
		return 0, &Error{Status: http.StatusUnprocessableEntity, Field: "password", Message: "Choose a new password that differs from your current one."}
	}
	if _, err := s.verify(r, uid, current); err != nil {
		if e, ok := err.(*Error); ok && e.Field == "password" {
			e.Field = "current_password"
			if e.Status == http.StatusUnauthorized {
				e.Message = "Your current password is not right."
			}
		}
		return 0, err
	}
	epoch, err := s.Auth.SetPassword(auth.ForClient(ctx, s.ClientIP(r)), user, password, confirm)
	if err != nil {
		return 0, s.userError(fromAuth(err, ""))
	}
	// Recorded now: whatever happens next, the password has changed.
	s.Audit.Record(ctx, s.event(r, audit.PasswordChanged, "changed by the user; every other session ends"))
	s.users.drop(uid)
	const why = "signed out because the password was changed from another of your sessions"
	n, err := s.Sessions.RevokeAllExcept(ctx, r, UserKey(uid), sess.Handle, why)
	if err != nil {
		return 0, err
	}
	if _, err := s.Sessions.Reauthenticated(w, r, epoch); err != nil {
		if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrNoSession) || errors.Is(err, session.ErrStaleEpoch) {
			// This session ended meanwhile (signed out from elsewhere).
			return n, &Error{Status: http.StatusUnauthorized, cause: err,
				Message: "Your password was changed, but this browser was signed out meanwhile. Sign in with your new password."}
		}
		return n, err
	}
	s.users.drop(uid)
	return n, nil
}

// SetPassword sets a user's password from the command line and ends every
// session of the user. It returns how many ended.
func (s *Service) SetPassword(ctx context.Context, username, password, confirm string) (int, error) {
	user, err := s.lookup(ctx, username)
	if err != nil {
		return 0, err
	}
	if _, err := s.Auth.SetPassword(ctx, user, password, confirm); err != nil {
		return 0, s.userError(fromAuth(err, ""))
	}
	s.adminEvent(ctx, audit.PasswordChanged, user.ID, user.Username, "changed by an administrator; every session ends")
	s.users.drop(user.ID)
	return s.Sessions.RevokeAll(ctx, UserKey(user.ID), "signed out because an administrator changed the password")
}

// lookup finds a user by username for the command line.
func (s *Service) lookup(ctx context.Context, username string) (data.User, error) {
	u, err := s.User(ctx, username)
	if e, ok := err.(*Error); ok && e.Status == http.StatusNotFound {
		norm, nerr := auth.NormalizeUsername(username)
		if nerr != nil {
			return data.User{}, fromAuth(nerr, "username")
		}
		return data.User{}, &Error{Status: http.StatusNotFound, Field: "username", Message: fmt.Sprintf("there is no user %q", norm), cause: err}
	}
	return u, err
}

// userError maps a user that vanished meanwhile to ErrSignedOut.
func (s *Service) userError(err error) error {
	if err == data.ErrNotFound {
		return ErrSignedOut
	}
	return err
}
