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
	NoticeClientChanged = "client_changed"  // a session was ended for being used from another client
	NoticeTokenReused   = "token_reused"    // a session was ended because two clients used it
	NoticeUnbound       = "binding_missing" // a bound session was ended for being used without its device
)

// noticeFor maps the session events that end a session as a defence to
// the notice that tells its owner.
var noticeFor = map[session.EventKind]string{
	session.EventClientChanged:  NoticeClientChanged,
	session.EventTokenReused:    NoticeTokenReused,
	session.EventBindingMissing: NoticeUnbound,
}

// Notice is a security notice to show on a session's pages.
type Notice struct {
	ID            int64
	Kind          string
	ClientChanged bool // Kind is NoticeClientChanged
	TokenReused   bool // Kind is NoticeTokenReused
	Unbound       bool // Kind is NoticeUnbound
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
	list, err := s.DB.ShownNotices(ctx, user.ID, since, sess.Handle.String())
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
			TokenReused: n.Kind == NoticeTokenReused, Unbound: n.Kind == NoticeUnbound,
			CreatedAt: n.CreatedAt, Device: n.Device, ClientIP: n.ClientIP})
	}
	return out, nil
}

// aboutOther reports whether n is about another session than sess (named
// by its handle, which stays the same when its token is replaced).
func aboutOther(n data.Notice, sess session.Session) bool {
	return n.Session == "" || n.Session != sess.Handle.String() // "": about no live session (one that was ended)
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
	err = s.DB.DismissNotice(ctx, uid, nid, sess.Handle.String(), s.Now())
	if errors.Is(err, data.ErrNotFound) {
		return notFound
	}
	return err
}

// SessionEvent is the session manager's OnEvent: it records the event and,
// for a session ended as a defence (its cookie used from another browser
// or system, a retired token presented again, a bound session used without
// its device), tells the owner with a notice on every session for two
// weeks (sessions signed in later too: the session it was about is gone).
// The notice names the client that set the defence off.
func (s *Service) SessionEvent(ctx context.Context, ev session.Event) {
	uid, _ := UserID(ev.UserID) // 0 when the event names no user
	s.Audit.SessionEvent(ctx, ev, uid)
	kind, ok := noticeFor[ev.Kind]
	if !ok || !ev.Ended || uid == 0 {
		return
	}
	_, err := s.DB.CreateNotice(context.WithoutCancel(ctx), data.Notice{UserID: uid, Kind: kind, CreatedAt: ev.Time,
		Device: ParseDevice(ev.UserAgent).Label(), ClientIP: ev.ClientIP})
	s.users.drop(uid)
	if err != nil {
		s.Logger.ErrorContext(ctx, "making a notice", "user_id", uid, "err", err)
	}
}
