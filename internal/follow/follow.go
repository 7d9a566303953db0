// Package follow is who follows whom: following and unfollowing, requests
// to follow private accounts, blocking and muting, finding people, and the
// rule every page applies to decide what one user may see of another.
package follow

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/problem"
)

// Service runs the follow use cases.
type Service struct {
	DB  *data.DB
	Now func() time.Time
	// Changed, if set, hears that a user's stored row changed (their
	// notification counter), so a cache of users can drop it.
	Changed func(userID int64)
}

// View is what a viewer (nil: signed out) may see of an owner's account.
type View struct {
	Self bool
	Rel  data.Relationship
	// Private is the owner's setting.
	Private bool
}

// SeesPosts reports whether the viewer may see the owner's posts and
// lists of people: not across a block either way, and for a private
// account only as an approved follower.
func (v View) SeesPosts() bool {
	if v.Self {
		return true
	}
	if v.Rel.Blocking || v.Rel.BlockedBy {
		return false
	}
	return !v.Private || v.Rel.Following
}

// SeesProfile reports whether the viewer may see the owner's bio and
// counts: not when the owner blocks them.
func (v View) SeesProfile() bool { return v.Self || !v.Rel.BlockedBy }

// Viewing returns what viewer (0: signed out) may see of owner.
func (s *Service) Viewing(ctx context.Context, viewer int64, owner data.User) (View, error) {
	v := View{Self: viewer == owner.ID, Private: owner.Private}
	if viewer == 0 || v.Self {
		return v, nil
	}
	rel, err := s.DB.Relationship(ctx, viewer, owner.ID)
	v.Rel = rel
	return v, err
}

// Outcome says what Follow did.
type Outcome int

// Follow outcomes.
const (
	Followed  Outcome = iota // now following
	Requested                // a private account: asked to follow
)

// Follow makes viewer follow the user named username, or asks to when the
// account is private.
func (s *Service) Follow(ctx context.Context, viewer int64, username string) (Outcome, data.User, error) {
	target, err := s.user(ctx, username)
	if err != nil {
		return 0, target, err
	}
	if target.ID == viewer {
		return 0, target, problem.New(http.StatusUnprocessableEntity, "You can't follow yourself.")
	}
	now := s.Now()
	if target.Private {
		rel, err := s.DB.Relationship(ctx, viewer, target.ID)
		if err != nil {
			return 0, target, err
		}
		if rel.Following {
			return Followed, target, nil
		}
		created, err := s.DB.RequestFollow(ctx, viewer, target.ID, now)
		if err != nil {
			return 0, target, s.blocked(err, target)
		}
		if created {
			s.changed(target.ID)
		}
		return Requested, target, nil
	}
	created, err := s.DB.Follow(ctx, viewer, target.ID, now)
	if err != nil {
		return 0, target, s.blocked(err, target)
	}
	if created {
		s.changed(target.ID)
	}
	return Followed, target, nil
}

func (s *Service) blocked(err error, target data.User) error {
	if errors.Is(err, data.ErrConflict) {
		return problem.New(http.StatusForbidden, "You can't follow @%s.", target.Username)
	}
	return err
}

func (s *Service) changed(id int64) {
	if s.Changed != nil {
		s.Changed(id)
	}
}

// Unfollow ends viewer's follow of username, or withdraws their request.
func (s *Service) Unfollow(ctx context.Context, viewer int64, username string) (data.User, error) {
	target, err := s.user(ctx, username)
	if err != nil {
		return target, err
	}
	return target, s.DB.Unfollow(ctx, viewer, target.ID)
}

// Approve lets the requester follow viewer.
func (s *Service) Approve(ctx context.Context, viewer int64, requester string) (data.User, error) {
	u, err := s.user(ctx, requester)
	if err != nil {
		return u, err
	}
	if err := s.DB.ApproveRequest(ctx, viewer, u.ID, s.Now()); err != nil {
		if errors.Is(err, data.ErrNotFound) {
			return u, problem.NotFound("@%s has no request to follow you.", u.Username)
		}
		return u, err
	}
	s.changed(u.ID)
	return u, nil
}

// Decline drops the requester's request to follow viewer.
func (s *Service) Decline(ctx context.Context, viewer int64, requester string) (data.User, error) {
	u, err := s.user(ctx, requester)
	if err != nil {
		return u, err
	}
	if err := s.DB.DeclineRequest(ctx, viewer, u.ID); err != nil {
		if errors.Is(err, data.ErrNotFound) {
			return u, problem.NotFound("@%s has no request to follow you.", u.Username)
		}
		return u, err
	}
	return u, nil
}

// Requests lists who asks to follow viewer.
func (s *Service) Requests(ctx context.Context, viewer int64) ([]data.Person, error) {
	return s.DB.FollowRequests(ctx, viewer, 200)
}

// Block makes viewer block username: follows end both ways, and they can
// no longer follow, see or mention viewer.
func (s *Service) Block(ctx context.Context, viewer int64, username string) (data.User, error) {
	u, err := s.other(ctx, viewer, username, "block")
	if err != nil {
		return u, err
	}
	return u, s.DB.Block(ctx, viewer, u.ID, s.Now())
}

// Unblock ends viewer's block of username.
func (s *Service) Unblock(ctx context.Context, viewer int64, username string) (data.User, error) {
	u, err := s.user(ctx, username)
	if err != nil {
		return u, err
	}
	return u, s.DB.Unblock(ctx, viewer, u.ID)
}

// Mute hides username's posts from viewer's home feed.
func (s *Service) Mute(ctx context.Context, viewer int64, username string) (data.User, error) {
	u, err := s.other(ctx, viewer, username, "mute")
	if err != nil {
		return u, err
	}
	return u, s.DB.Mute(ctx, viewer, u.ID, s.Now())
}

// Unmute ends viewer's mute of username.
func (s *Service) Unmute(ctx context.Context, viewer int64, username string) (data.User, error) {
	u, err := s.user(ctx, username)
	if err != nil {
		return u, err
	}
	return u, s.DB.Unmute(ctx, viewer, u.ID)
}

// SetPrivate makes viewer's account private or public. Going public
// approves every pending request.
func (s *Service) SetPrivate(ctx context.Context, viewer int64, private bool) error {
	if err := s.DB.SetPrivate(ctx, viewer, private, s.Now()); err != nil {
		return err
	}
	if !private {
		if err := s.DB.AcceptAllRequests(ctx, viewer, s.Now()); err != nil {
			return err
		}
	}
	s.changed(viewer)
	return nil
}

// Blocked and Muted list the people viewer blocks and mutes.
func (s *Service) Blocked(ctx context.Context, viewer int64) ([]data.Person, error) {
	return s.DB.Blocked(ctx, viewer, 500)
}

// Muted lists the people viewer mutes.
func (s *Service) Muted(ctx context.Context, viewer int64) ([]data.Person, error) {
	return s.DB.Muted(ctx, viewer, 500)
}

func (s *Service) other(ctx context.Context, viewer int64, username, verb string) (data.User, error) {
	u, err := s.user(ctx, username)
	if err != nil {
		return u, err
	}
	if u.ID == viewer {
		return u, problem.New(http.StatusUnprocessableEntity, "You can't %s yourself.", verb)
	}
	return u, nil
}

// user looks a user up by username (any case, with or without @).
func (s *Service) user(ctx context.Context, username string) (data.User, error) {
	return Lookup(ctx, s.DB, username)
}

// Lookup finds a user by username, in any case, with or without a leading
// @; a 404 problem if there is none.
func Lookup(ctx context.Context, db *data.DB, username string) (data.User, error) {
	name, err := auth.NormalizeUsername(strings.TrimPrefix(username, "@"))
	if err != nil {
		return data.User{}, problem.NotFound("Nobody on ConnectBook has that username.")
	}
	u, err := db.UserByUsername(ctx, name)
	if errors.Is(err, data.ErrNotFound) {
		return u, problem.NotFound("Nobody on ConnectBook is called @%s.", name)
	}
	return u, err
}
