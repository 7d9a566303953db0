package account

import (
	"net/http"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/audit"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/session"
)

// ActivityItem is one entry of a user's security activity.
type ActivityItem struct {
	At       time.Time
	Title    string // "Signed in", "Failed sign-in", ...
	Detail   string // more, in words
	Device   string // from the User-Agent, when the event had one
	ClientIP string
	Session  string // short session ID, when known
	Warning  bool   // worth a look: failures, refused tokens, revocations not by this user
}

// ActivityPage is one page of activity, newest first; Next is the cursor of
// the following page (0 when there is none).
type ActivityPage struct {
	Items []ActivityItem
	Next  int64
}

// activityKinds are the events a user sees, and how they read.
var activityKinds = map[string]struct {
	title   string
	warning bool
}{
	audit.SignedUp:                       {"Account created", false},
	audit.LoginSucceeded:                 {"Signed in", false},
	audit.LoginFailed:                    {"Failed sign-in (wrong password)", true},
	audit.LoginThrottled:                 {"Sign-in attempts slowed down after too many failures", true},
	audit.Logout:                         {"Signed out", false},
	audit.PasswordChanged:                {"Password changed", false},
	audit.Reauthenticated:                {"Password confirmed for a sensitive action", false},
	audit.ReauthFailed:                   {"Wrong password typed while signed in", true},
	string(session.EventRevoked):         {"Sessions ended", false},
	string(session.EventClientChanged):   {"Session ended: used from another browser or system", true},
	string(session.EventTokenReused):     {"Session ended: used from two places at once", true},
	string(session.EventBindingMissing):  {"Refused a copy of a session cookie without its device", true},
	string(session.EventBindingRefused):  {"Refused a device key proof that did not check out", true},
	string(session.EventBound):           {"Session bound to this device's key", false},
	string(session.EventEvicted):         {"Oldest session signed out (session limit)", false},
	string(session.EventEndedToken):      {"A browser whose session had ended came back", false},
	string(session.EventForeignToken):    {"Refused a session token ConnectBook never issued", true},
	string(session.EventExpired):         {"Session expired", false},
	string(session.EventTokenInURL):      {"Refused a session token sent in a link", true},
	string(session.EventDuplicateCookie): {"Refused a doubled session cookie", true},
	audit.CSRFRejected:                   {"Refused a request from another site", true},
}

var activityKindList = func() []string {
	list := make([]string, 0, len(activityKinds))
	for k := range activityKinds {
		list = append(list, k)
	}
	return list
}()

// ActivityPageSize is how many items a page holds.
const ActivityPageSize = 25

// Activity returns a page of the signed-in user's own security events from
// the last 90 days, newest first, starting before the cursor (0: newest).
// Failed sign-ins on the account are included (they carry its ID, so a
// username taken again after a deletion shows nothing of the old account).
func (s *Service) Activity(r *http.Request, before int64) (ActivityPage, error) {
	_, uid, err := s.current(r)
	if err != nil {
		return ActivityPage{}, err
	}
	ctx := r.Context()
	since := s.Now().Add(-ActivityRetention)
	events, err := s.DB.Activity(ctx, data.ActivityQuery{UserID: uid, Since: since,
		Before: before, Kinds: activityKindList, Limit: ActivityPageSize + 1})
	if err != nil {
		return ActivityPage{}, err
	}
	var page ActivityPage
	if len(events) > ActivityPageSize {
		events = events[:ActivityPageSize]
		page.Next = events[len(events)-1].ID
	}
	for _, e := range events {
		k := activityKinds[e.Kind]
		item := ActivityItem{At: e.At, Title: k.title, Detail: e.Detail, ClientIP: e.ClientIP, Session: e.Session, Warning: k.warning}
		if e.UserAgent != "" {
			item.Device = ParseDevice(e.UserAgent).Label()
		}
		if e.Kind == string(session.EventRevoked) && !strings.Contains(e.Detail, "another of your sessions") {
			item.Warning = true // ended by someone else: an administrator, a password change
		}
		page.Items = append(page.Items, item)
	}
	return page, nil
}
