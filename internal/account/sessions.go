package account

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/connectbook/connectbook/session"
)

// SessionInfo is one live session, as its owner sees it.
type SessionInfo struct {
	ID         string // the session's handle: it names the session, it cannot sign anyone in
	Short      string
	Device     Device
	CreatedAt  time.Time
	CreatedIP  string
	LastSeenAt time.Time
	LastIP     string
	ExpiresAt  time.Time
	Method     string // how it signed in, in words
	UserAgent  string
	Current    bool // the session of the request that asked
	// Bound says the session is bound to a key its browser holds (Device
	// Bound Session Credentials) since BoundAt; Refused counts requests
	// turned away for lacking proof of that key: copies of its cookie.
	Bound   bool
	BoundAt time.Time
	Refused int64
}

// MethodText says in words how a session signed in.
func MethodText(method string) string {
	switch method {
	case MethodPassword:
		return "Signed in with password"
	case MethodSignUp:
		return "Signed in when the account was created"
	case "":
		return "Signed in"
	}
	return "Signed in (" + method + ")"
}

func info(s session.Session, current session.Handle) SessionInfo {
	return SessionInfo{
		ID: s.Handle.String(), Short: s.Handle.Short(), Device: ParseDevice(s.UserAgent),
		CreatedAt: s.CreatedAt, CreatedIP: s.CreatedIP, LastSeenAt: s.LastSeenAt, LastIP: s.LastIP,
		ExpiresAt: s.ExpiresAt(), Method: MethodText(s.Method), UserAgent: s.UserAgent, Current: s.Handle == current,
		Bound: s.Bound(), BoundAt: s.BoundAt, Refused: s.Unbound,
	}
}

// ListSessions lists the signed-in user's live sessions: this one first, then
// the most recently active.
func (s *Service) ListSessions(r *http.Request) ([]SessionInfo, error) {
	sess, _, err := s.current(r)
	if err != nil {
		return nil, err
	}
	list, err := s.Sessions.Sessions(r.Context(), sess.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(list))
	for _, o := range list {
		if o.Handle == sess.Handle {
			// The request's own view is fresher than the store's (the store's
			// last-seen time is written at most once a minute).
			o = sess
		}
		out = append(out, info(o, sess.Handle))
	}
	sortSessions(out)
	return out, nil
}

func sortSessions(list []SessionInfo) {
	slices.SortStableFunc(list, func(a, b SessionInfo) int {
		if a.Current != b.Current {
			if a.Current {
				return -1
			}
			return 1
		}
		return cmp.Or(b.LastSeenAt.Compare(a.LastSeenAt), b.CreatedAt.Compare(a.CreatedAt))
	})
}

// RevokeSession ends one of the signed-in user's sessions, named by its
// handle in hexadecimal. Ending the request's own session signs this browser out (self is
// true), freely; ending another one needs sudo mode (ErrSudoRequired). A
// session that is not the user's, or not live, is ErrNotFound: nothing
// tells whether it exists.
//
// Outside sudo mode, a password given with the request confirms it first
// (a wrong one is an *Error on the field "password"), so that the action
// goes through in one step.
func (s *Service) RevokeSession(w http.ResponseWriter, r *http.Request, handle, password string) (self bool, err error) {
	sess, _, err := s.current(r)
	if err != nil {
		return false, err
	}
	h, err := session.ParseHandle(handle)
	if err != nil {
		return false, ErrNotFound
	}
	if h == sess.Handle {
		return true, s.LogOut(w, r)
	}
	// Ending another session is as sensitive as ending them all: one at a
	// time, a stolen session could sign its owner out everywhere. Whose it
	// is comes first, so that another user's session is "not found" either
	// way.
	if !s.InSudo(r) {
		list, err := s.Sessions.Sessions(r.Context(), sess.UserID)
		if err != nil {
			return false, err
		}
		if !slices.ContainsFunc(list, func(o session.Session) bool { return o.Handle == h }) {
			return false, ErrNotFound
		}
		if err := s.sudo(w, r, password); err != nil {
			return false, err
		}
	}
	// The reason reaches whoever presents the ended token next, perhaps
	// not its owner: it names no device.
	const why = "signed out from another of your sessions"
	err = s.Sessions.Revoke(r.Context(), r, sess.UserID, h, why)
	if errors.Is(err, session.ErrNotFound) {
		return false, ErrNotFound
	}
	return false, err
}

// RevokeOtherSessions ends every session of the signed-in user but this
// one, once the session is in sudo mode (or password confirms it, as for
// RevokeSession). It returns how many ended.
func (s *Service) RevokeOtherSessions(w http.ResponseWriter, r *http.Request, password string) (int, error) {
	if _, _, err := s.current(r); err != nil {
		return 0, err
	}
	if err := s.sudo(w, r, password); err != nil {
		return 0, err
	}
	const why = "signed out from another of your sessions, with \"sign out everywhere else\""
	return s.Sessions.RevokeOthers(r, why)
}

// UserSessions lists a user's live sessions for the command line.
func (s *Service) UserSessions(ctx context.Context, username string) ([]SessionInfo, error) {
	user, err := s.lookup(ctx, username)
	if err != nil {
		return nil, err
	}
	list, err := s.Sessions.Sessions(ctx, UserKey(user.ID))
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(list))
	for _, o := range list {
		out = append(out, info(o, session.Handle{}))
	}
	sortSessions(out)
	return out, nil
}

// AdminRevokeSession ends one session of a user from the command line,
// named by its handle or the handle's first 12 digits (as listed).
func (s *Service) AdminRevokeSession(ctx context.Context, username, handle string) error {
	user, err := s.lookup(ctx, username)
	if err != nil {
		return err
	}
	notFound := &Error{Status: http.StatusNotFound, Field: "session", Message: user.Username + " has no live session with that id"}
	h, err := session.ParseHandle(handle)
	if err != nil {
		list, err := s.Sessions.Sessions(ctx, UserKey(user.ID))
		if err != nil {
			return err
		}
		found := 0
		for _, o := range list {
			if len(handle) >= 12 && strings.HasPrefix(o.Handle.String(), strings.ToLower(handle)) {
				h, found = o.Handle, found+1
			}
		}
		if found != 1 {
			return notFound
		}
	}
	err = s.Sessions.Revoke(ctx, nil, UserKey(user.ID), h, "revoked by an administrator")
	if errors.Is(err, session.ErrNotFound) {
		notFound.cause = err
		return notFound
	}
	return err
}

// AdminRevokeAll ends every session of a user from the command line, and
// moves the user's credential epoch on so that a sign-in in flight cannot
// keep one. It returns how many ended.
func (s *Service) AdminRevokeAll(ctx context.Context, username string) (int, error) {
	user, err := s.lookup(ctx, username)
	if err != nil {
		return 0, err
	}
	if _, err := s.DB.BumpEpoch(ctx, user.ID); err != nil {
		return 0, err
	}
	s.users.drop(user.ID)
	return s.Sessions.RevokeAll(ctx, UserKey(user.ID), "revoked by an administrator")
}

// RevokeEveryone ends every session of every user (after a leak, say):
// everyone signs in again. It returns how many users and sessions.
func (s *Service) RevokeEveryone(ctx context.Context) (users, sessions int, err error) {
	// Epochs first: from here on no earlier session is accepted, and no
	// sign-in in flight keeps one.
	if _, err := s.DB.BumpAllEpochs(ctx); err != nil {
		return 0, 0, err
	}
	var after int64
	for {
		ids, err := s.DB.UserIDs(ctx, after, 500)
		if err != nil {
			return users, sessions, err
		}
		for _, id := range ids {
			n, err := s.Sessions.RevokeAll(ctx, UserKey(id), "revoked by an administrator, with every session of every user")
			if err != nil {
				return users, sessions, err
			}
			users++
			sessions += n
			s.users.drop(id)
		}
		if len(ids) < 500 {
			break
		}
		after = ids[len(ids)-1]
	}
	s.adminEvent(ctx, "sessions_revoked_all_users", 0, "", fmt.Sprintf("%s of %s ended by an administrator", plural(sessions, "session"), plural(users, "user")))
	return users, sessions, nil
}
