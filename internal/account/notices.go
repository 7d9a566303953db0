package account

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// Notice kinds.
const (
	NoticeNewSignIn = "new_sign_in"
)

// Notice is a security notice to show on a session's pages.
type Notice struct {
	ID        int64
	Kind      string
	CreatedAt time.Time
	Device    string
	ClientIP  string
}

// Notices returns the notices to show to the session of the request: those
// made after the session signed in (so never the one about its own
// sign-in), not yet dismissed. user is the request's user, as SessionUser
// returned it: most pages need no query at all.
func (s *Service) Notices(ctx context.Context, user data.User, sess session.Session) ([]Notice, error) {
	if user.NoticeAt.IsZero() || !user.NoticeAt.After(sess.CreatedAt) {
		return nil, nil
	}
	list, err := s.DB.ShownNotices(ctx, user.ID, sess.CreatedAt)
	if err != nil {
		return nil, err
	}
	out := make([]Notice, 0, len(list))
	for _, n := range list {
		if !n.CreatedAt.After(sess.CreatedAt) || n.Session == sess.ID.String() {
			continue
		}
		out = append(out, Notice{ID: n.ID, Kind: n.Kind, CreatedAt: n.CreatedAt, Device: n.Device, ClientIP: n.ClientIP})
	}
	return out, nil
}

// DismissNotice dismisses one of the signed-in user's notices, named by its
// decimal ID, for all of the user's sessions.
func (s *Service) DismissNotice(r *http.Request, id string) error {
	_, uid, err := s.current(r)
	if err != nil {
		return err
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return &Error{Status: http.StatusNotFound, Message: "There is no such notice."}
	}
	err = s.DB.DismissNotice(r.Context(), uid, n, s.Now())
	if errors.Is(err, data.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, Message: "There is no such notice. It may have been dismissed already."}
	}
	return err
}
