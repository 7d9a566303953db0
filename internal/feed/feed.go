// Package feed reads pages of posts: a user's home feed (their posts and
// those of the people they follow and have not muted) and a profile's
// posts, as its viewer may see them, newest first, a page at a time with a
// keyset cursor (the last post's ID), never an offset: a page's link
// shows the same posts however many are written meanwhile.
package feed

import (
	"context"
	"strconv"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/follow"
	"github.com/connectbook/connectbook/internal/problem"
)

// PageSize is how many posts a page shows.
const PageSize = 20

// Service reads feeds.
type Service struct {
	DB *data.DB
}

// Page is a page of posts.
type Page struct {
	Posts []data.Post
	// Next is the cursor of the next, older page ("" on the last).
	Next string
}

// Cursor reads a page cursor: "" for the first page, else a post ID.
func Cursor(before string) (int64, error) {
	if before == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(before, 10, 64)
	if err != nil || n <= 0 {
		return 0, problem.New(400, "That page link is not valid: start again from the first page.")
	}
	return n, nil
}

// Home returns a page of viewer's home feed.
func (s *Service) Home(ctx context.Context, viewer int64, before string) (Page, error) {
	cursor, err := Cursor(before)
	if err != nil {
		return Page{}, err
	}
	posts, err := s.DB.HomeFeed(ctx, viewer, cursor, PageSize+1)
	return page(posts), err
}

// Profile returns a page of owner's posts as view allows: none when the
// viewer may not see them.
func (s *Service) Profile(ctx context.Context, view follow.View, owner int64, before string) (Page, error) {
	cursor, err := Cursor(before)
	if err != nil || !view.SeesPosts() {
		return Page{Posts: []data.Post{}}, err
	}
	posts, err := s.DB.PostsByAuthor(ctx, owner, cursor, PageSize+1)
	return page(posts), err
}

// page cuts a list of PageSize+1 posts to a page, with the cursor of the
// next when there was one more.
func page(posts []data.Post) Page {
	p := Page{Posts: posts}
	if len(posts) > PageSize {
		p.Posts = posts[:PageSize]
		p.Next = strconv.FormatInt(posts[PageSize-1].ID, 10)
	}
	return p
}
