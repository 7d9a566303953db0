package follow

import (
	"context"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/problem"
)

// Lists of people are pages of this many.
const PeoplePage = 50

// Counts are a profile's numbers.
type Counts struct{ Followers, Following, Posts int }

// Counts returns owner's counts.
func (s *Service) Counts(ctx context.Context, owner int64) (Counts, error) {
	var c Counts
	var err error
	if c.Followers, c.Following, err = s.DB.FollowCounts(ctx, owner); err != nil {
		return c, err
	}
	c.Posts, err = s.DB.CountPosts(ctx, owner)
	return c, err
}

// People is a page of a list of people.
type People struct {
	People []data.Person
	// Next is the cursor of the next page ("" on the last).
	Next string
}

// Followers lists who follows owner, as viewer may see it: the list of a
// private account only for its approved followers, none across a block.
func (s *Service) Followers(ctx context.Context, view View, owner int64, after string) (People, error) {
	return s.list(ctx, view, after, func(after string) ([]data.Person, error) {
		return s.DB.Followers(ctx, owner, after, PeoplePage+1)
	})
}

// Following lists whom owner follows, as viewer may see it.
func (s *Service) Following(ctx context.Context, view View, owner int64, after string) (People, error) {
	return s.list(ctx, view, after, func(after string) ([]data.Person, error) {
		return s.DB.Following(ctx, owner, after, PeoplePage+1)
	})
}

func (s *Service) list(ctx context.Context, view View, after string, page func(string) ([]data.Person, error)) (People, error) {
	if !view.SeesPosts() {
		return People{}, nil
	}
	if after != "" {
		// The cursor is a username; anything else is a bad link.
		if len(after) > 30 || strings.Trim(after, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			return People{}, problem.New(400, "That page link is not valid.")
		}
	}
	people, err := page(after)
	if err != nil {
		return People{}, err
	}
	var p People
	if len(people) > PeoplePage {
		people = people[:PeoplePage]
		p.Next = people[len(people)-1].Username
	}
	p.People = people
	return p, nil
}

// MaxQuery bounds a search, in characters.
const MaxQuery = 50

// Search finds people by the start of their username or display name, in
// any case, leaving out anyone who blocks viewer.
func (s *Service) Search(ctx context.Context, viewer int64, q string) ([]data.Person, error) {
	q = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(q), "@"))
	if !utf8.ValidString(q) || strings.ContainsFunc(q, unicode.IsControl) {
		return nil, &problem.Error{Status: http.StatusBadRequest, Field: "q",
			Message: "The search is not valid text (invalid UTF-8 or a control character such as NUL). Please check what you typed or pasted."}
	}
	if utf8.RuneCountInString(q) > MaxQuery {
		return nil, problem.Field("q", "Search for at most %d characters.", MaxQuery)
	}
	if q == "" {
		return []data.Person{}, nil
	}
	return s.DB.SearchPeople(ctx, viewer, q, 30)
}

// RecentlyJoined lists the newest accounts (for viewer, 0 if signed out).
func (s *Service) RecentlyJoined(ctx context.Context, viewer int64, n int) ([]data.Person, error) {
	return s.DB.RecentlyJoined(ctx, viewer, false, n)
}

// Suggestions lists people viewer might follow: recent accounts they
// neither follow nor block.
func (s *Service) Suggestions(ctx context.Context, viewer int64, n int) ([]data.Person, error) {
	return s.DB.RecentlyJoined(ctx, viewer, true, n)
}
