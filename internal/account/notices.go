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
	NoticeNewSignIn     = "new_sign_in"
	NoticeClientChanged = "client_changed" // a session was ended for being used from another client
)

// Notice is a security notice to show on a session's pages.
type Notice struct {
	ID            int64
	Kind          string
	ClientChanged bool // Kind is NoticeClientChanged
	CreatedAt     time.Time
	Device        string
	ClientIP      string
}

// NoticeLifetime is how long a notice is shown.
const NoticeLifetime = 14 * 24 * time.Hour

// Notices returns the notices to show to the session of the request: every
// notice of the last two weeks about another session (never the one about
// its own sign-in), that this session has not dismissed. Each session
// dismisses a notice for itself, so whoever the notice warns about cannot
// hide it from the others, and a session signed in later still sees it.
// user is the request's user, as SessionUser returned it: a user without
// recent notices costs no query.
func (s *Service) Notices(ctx context.Context, user data.User, sess session.Session) ([]Notice, error) {
	since := s.Now().Add(-NoticeLifetime)
	if user.NoticeAt.IsZero() || !user.NoticeAt.After(since) {
		return nil, nil
	}
	list, err := s.DB.ShownNotices(ctx, user.ID, since, sess.ID.String())
	if err != nil {
		return nil, err
	}
	device := ParseDevice(sess.UserAgent).Label()
	out := make([]Notice, 0, len(list))
	for _, n := range list {
		if !aboutOther(n, sess) {
			continue
		}
		// A session that signed in after the sign-in a notice is about,
		// on the same browser and system, is most likely its owner's next
		// one: telling it would be telling the user about themselves.
		if n.Kind == NoticeNewSignIn && sess.CreatedAt.After(n.CreatedAt) && n.Device == device {
			continue
		}
		out = append(out, Notice{ID: n.ID, Kind: n.Kind, ClientChanged: n.Kind == NoticeClientChanged,
			CreatedAt: n.CreatedAt, Device: n.Device, ClientIP: n.ClientIP})
	}
	return out, nil
}

// aboutOther reports whether n is about another session than sess. A
// notice is made at its session's sign-in time, which the session keeps
// when its token is replaced (its ID does not).
func aboutOther(n data.Notice, sess session.Session) bool {
	if n.Session == "" { // about no live session (one that was ended)
		return true
	}
	return n.Session != sess.ID.String() && !n.CreatedAt.Equal(sess.CreatedAt)
}

// DismissNotice dismisses one of the notices shown to the request's
// session, named by its decimal ID, for this session only. A notice that
// is not the user's, or that is about this very session, is not found.
func (s *Service) DismissNotice(r *http.Request, id string) error {
	sess, uid, err := s.current(r)
	if err != nil {
		return err
	}
	notFound := &Error{Status: http.StatusNotFound, Message: "There is no such notice."}
	nid, err := strconv.ParseInt(id, 10, 64)
	if err != nil || nid <= 0 {
		return notFound
	}
	ctx := r.Context()
	n, err := s.DB.Notice(ctx, uid, nid)
	if errors.Is(err, data.ErrNotFound) || err == nil && !aboutOther(n, sess) {
		return notFound
	}
	if err != nil {
		return err
	}
	err = s.DB.DismissNotice(ctx, uid, nid, sess.ID.String(), s.Now())
	if errors.Is(err, data.ErrNotFound) {
		return notFound
	}
	return err
}

// SessionEvent is the session manager's OnEvent: it records the event and,
// for a session ended because its cookie was used from another browser or
// system, tells the owner with a notice on every session for two weeks
// (sessions signed in later too: the session it was about is gone).
func (s *Service) SessionEvent(ctx context.Context, ev session.Event) {
	uid, _ := UserID(ev.UserID) // 0 when the event names no user
	s.Audit.SessionEvent(ctx, ev, uid)
	if ev.Kind != session.EventClientChanged || uid == 0 {
		return
	}
	_, err := s.DB.CreateNotice(context.WithoutCancel(ctx), data.Notice{UserID: uid, Kind: NoticeClientChanged, CreatedAt: ev.Time,
		Device: ParseDevice(ev.UserAgent).Label(), ClientIP: ev.ClientIP})
	s.users.drop(uid)
	if err != nil {
		s.Logger.ErrorContext(ctx, "making a notice", "user_id", uid, "err", err)
	}
}

// keepDismissals moves the dismissals of the request's session from its
// old ID to its new one after its token was replaced. Failing is logged:
// at worst, notices show again.
func (s *Service) keepDismissals(ctx context.Context, old, cur session.ID) {
	if err := s.DB.MoveDismissals(ctx, old.String(), cur.String()); err != nil {
		s.Logger.ErrorContext(ctx, "keeping notice dismissals", "err", err)
	}
}
