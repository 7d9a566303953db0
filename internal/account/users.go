package account

import (
	"context"
	"errors"
	"net/http"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// errEnded: the session's user is gone or its credentials changed.
var errEnded = errors.New("account: the session's credentials are no longer current")

// SessionUser returns the user of a live session. It answers from a cache
// that lives two seconds (this instance drops an entry at once when it
// changes the user). It returns an error wrapping errEnded (test with
// IsEnded) when the user no longer exists or the session was issued for
// credentials that have since changed: the caller must end the session.
func (s *Service) SessionUser(ctx context.Context, sess session.Session) (data.User, error) {
	id, err := UserID(sess.UserID)
	if err != nil {
		return data.User{}, errEnded
	}
	now := s.Now()
	u, ok := s.users.get(id, now)
	if !ok {
		u, err = s.DB.UserByID(ctx, id)
		if errors.Is(err, data.ErrNotFound) {
			return data.User{}, errEnded
		}
		if err != nil {
			return data.User{}, err
		}
		s.users.put(u, now)
	}
	if sess.Epoch < u.Epoch {
		return data.User{}, errEnded
	}
	return u, nil
}

// IsEnded reports whether SessionUser found the session's credentials gone.
func IsEnded(err error) bool { return errors.Is(err, errEnded) }

// EndStale ends the request's session after SessionUser reported it ended.
func (s *Service) EndStale(w http.ResponseWriter, r *http.Request) error {
	return s.Sessions.Destroy(w, r)
}

// User returns a user by username, for profile pages: ErrNotFound-style
// *Error when there is none.
func (s *Service) User(ctx context.Context, username string) (data.User, error) {
	name, err := auth.NormalizeUsername(username)
	var u data.User
	if err == nil {
		u, err = s.DB.UserByUsername(ctx, name)
	}
	var ie *auth.InputError
	if errors.Is(err, data.ErrNotFound) || errors.As(err, &ie) {
		return data.User{}, &Error{Status: http.StatusNotFound, Message: "Nobody on ConnectBook has that username.", cause: err}
	}
	return u, err
}

// UpdateProfile sets the request's user's display name and bio.
func (s *Service) UpdateProfile(r *http.Request, displayName, bio string) error {
	_, uid, err := s.current(r)
	if err != nil {
		return err
	}
	name, err := auth.CheckDisplayName(displayName)
	if err == nil {
		bio, err = auth.CheckBio(bio)
	}
	if err != nil {
		return fromAuth(err, "")
	}
	err = s.DB.UpdateProfile(r.Context(), uid, name, bio, s.Now())
	s.users.drop(uid)
	return err
}
