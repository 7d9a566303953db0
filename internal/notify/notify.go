// Package notify is a user's notifications: new followers, requests to
// follow, approvals, mentions, and the account's security notices, newest
// first, with the count of those not yet seen.
package notify

import (
	"context"
	"strconv"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/feed"
)

// PageSize is how many notifications a page shows; MaxUnread the most the
// menu counts ("99+" beyond).
const (
	PageSize  = 30
	MaxUnread = 99
)

// Service reads notifications.
type Service struct {
	DB *data.DB
	// Changed, if set, hears that a user's stored row changed.
	Changed func(userID int64)
}

// Page is a page of notifications.
type Page struct {
	Notifications []data.Notification
	// Unread marks those the user had not seen before this page.
	Unread map[int64]bool
	Next   string
}

// Unread counts u's notifications not yet seen, up to MaxUnread+1; it
// reads the database only when u's row says there may be some.
func (s *Service) Unread(ctx context.Context, u data.User) (int, error) {
	if !u.HasUnread() {
		return 0, nil
	}
	return s.DB.CountUnread(ctx, u.ID, u.SeenNotification, MaxUnread+1)
}

// List returns a page of u's notifications and, on the first page, marks
// them all seen.
func (s *Service) List(ctx context.Context, u data.User, before string) (Page, error) {
	cursor, err := feed.Cursor(before)
	if err != nil {
		return Page{}, err
	}
	list, err := s.DB.Notifications(ctx, u.ID, cursor, PageSize+1)
	if err != nil {
		return Page{}, err
	}
	p := Page{Notifications: list, Unread: map[int64]bool{}}
	if len(list) > PageSize {
		p.Notifications = list[:PageSize]
		p.Next = itoa(list[PageSize-1].ID)
	}
	for _, n := range p.Notifications {
		p.Unread[n.ID] = n.ID > u.SeenNotification
	}
	if cursor == 0 && len(list) > 0 && list[0].ID > u.SeenNotification {
		if err := s.DB.SeeNotifications(ctx, u.ID, list[0].ID); err != nil {
			return p, err
		}
		if s.Changed != nil {
			s.Changed(u.ID)
		}
	}
	return p, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
