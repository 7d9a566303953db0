package account

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/data"
)

// DeleteAccount deletes the signed-in user's account — the user, their
// profile, notices and sessions; security events stay for their retention —
// once the session is in sudo mode and the user has typed their username.
// The browser is signed out.
func (s *Service) DeleteAccount(w http.ResponseWriter, r *http.Request, typedUsername string) error {
	_, uid, err := s.current(r)
	if err != nil {
		return err
	}
	if !s.InSudo(r) {
		return ErrSudoRequired
	}
	ctx := r.Context()
	user, err := s.DB.UserByID(ctx, uid)
	if err != nil {
		return s.userError(err)
	}
	if !strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(typedUsername), "@")), user.Username) {
		return &Error{Status: http.StatusUnprocessableEntity, Field: "confirm_username",
			Message: fmt.Sprintf("To confirm, type your username, %s, exactly.", user.Username)}
	}
	e := s.event(r, audit.UserDeleted, "deleted by the user; every session ends")
	e.UserID, e.Username = user.ID, user.Username
	if _, err := s.deleteUser(ctx, user, "signed out because the account was deleted", e); err != nil {
		return err
	}
	return s.Sessions.Destroy(w, r)
}

// DeleteUser deletes an account from the command line and ends its
// sessions; it returns how many ended.
func (s *Service) DeleteUser(ctx context.Context, username string) (int, error) {
	user, err := s.lookup(ctx, username)
	if err != nil {
		return 0, err
	}
	e := data.Event{Kind: audit.UserDeleted, UserID: user.ID, Username: user.Username, ClientIP: "command line",
		Detail: "deleted by an administrator; every session ends"}
	return s.deleteUser(ctx, user, "signed out because an administrator deleted the account", e)
}

// deleteUser deletes the user first, so that no sign-in can start a
// session afterwards (its epoch check finds no user), records e, then ends
// every session.
func (s *Service) deleteUser(ctx context.Context, user data.User, why string, e data.Event) (int, error) {
	if err := s.DB.DeleteUser(ctx, user.ID); err != nil && err != data.ErrNotFound {
		return 0, err
	}
	s.Audit.Record(ctx, e)
	s.users.drop(user.ID)
	return s.Sessions.RevokeAll(ctx, UserKey(user.ID), why)
}
