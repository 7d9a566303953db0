// Package post is writing, reading and deleting posts: plain text of up to
// 500 characters, with links and @mentions made safe to show, a limit on
// how fast one user may post, and mention notifications only for those who
// may see the post and do not block its author.
package post

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/follow"
	"github.com/connectbook/connectbook/internal/problem"
)

// MaxLength is the most characters (Unicode code points) a post holds.
const MaxLength = 500

// Posting limits: at most Burst posts in Window per user.
const (
	Burst  = 20
	Window = 10 * time.Minute
)

// maxMentions bounds the people one post notifies.
const maxMentions = 10

// Service runs the post use cases.
type Service struct {
	DB     *data.DB
	Follow *follow.Service
	Now    func() time.Time
	// Changed, if set, hears that a user's stored row changed.
	Changed func(userID int64)
}

// Check trims and checks a post's text: not empty, at most MaxLength
// characters, valid UTF-8 without control or invisible characters (line
// breaks and tabs aside; tabs become spaces).
func Check(body string) (string, error) {
	if !utf8.ValidString(body) {
		return "", problem.Field("body", "The post is not valid text (invalid UTF-8).")
	}
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\t", " ")
	body = strings.TrimSpace(body)
	for strings.Contains(body, "\n\n\n") {
		body = strings.ReplaceAll(body, "\n\n\n", "\n\n")
	}
	for _, r := range body {
		if r != '\n' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || auth.Invisible(r)) {
			return "", problem.Field("body", "The post contains control or invisible characters (such as right-to-left overrides or zero-width spaces), which could make it read as something else. Please remove them.")
		}
	}
	switch n := utf8.RuneCountInString(body); {
	case n == 0:
		return "", problem.Field("body", "Write something first.")
	case n > MaxLength:
		return "", problem.Field("body", "Posts are at most %d characters; this one has %d.", MaxLength, n)
	}
	return body, nil
}

// Create posts body as author, after checking it and the posting limit,
// and notifies the people it mentions who may see it.
func (s *Service) Create(ctx context.Context, author data.User, body string) (data.Post, error) {
	body, err := Check(body)
	if err != nil {
		return data.Post{}, err
	}
	now := s.Now()
	recent, err := s.DB.PostsSince(ctx, author.ID, now.Add(-Window), Burst)
	if err != nil {
		return data.Post{}, err
	}
	if recent >= Burst {
		e := problem.New(http.StatusTooManyRequests, "You have posted %d times in the last %d minutes. Please wait a few minutes before posting again.", Burst, int(Window.Minutes()))
		e.Field, e.RetryAfter = "body", time.Minute
		return data.Post{}, e
	}
	notify, err := s.mentioned(ctx, author, body)
	if err != nil {
		return data.Post{}, err
	}
	p, err := s.DB.CreatePost(ctx, author.ID, body, notify, now)
	if err != nil {
		return p, err
	}
	for _, id := range notify {
		if s.Changed != nil {
			s.Changed(id)
		}
	}
	return p, nil
}

// mentioned returns the IDs of the users body mentions that are told:
// not the author, not anyone who blocks the author or whom the author
// blocks, and for a private author only approved followers.
func (s *Service) mentioned(ctx context.Context, author data.User, body string) ([]int64, error) {
	var ids []int64
	for _, name := range Mentions(body) {
		if len(ids) == maxMentions {
			break
		}
		u, err := s.DB.UserByUsername(ctx, name)
		if errors.Is(err, data.ErrNotFound) || (err == nil && u.ID == author.ID) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// What the mentioned user may see of the author's posts.
		view, err := s.Follow.Viewing(ctx, u.ID, author)
		if err != nil {
			return nil, err
		}
		if view.SeesPosts() {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

// Get returns the post with the ID in the string id, if viewer (0: signed
// out) may see it; otherwise, as for no such post, a 404.
func (s *Service) Get(ctx context.Context, viewer int64, id string) (data.Post, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return data.Post{}, problem.NotFound("There is no such post.")
	}
	p, err := s.DB.Post(ctx, n)
	if errors.Is(err, data.ErrNotFound) {
		return p, problem.NotFound("There is no such post; it may have been deleted.")
	}
	if err != nil {
		return p, err
	}
	author, err := s.DB.UserByID(ctx, p.AuthorID)
	if err != nil {
		return p, err
	}
	view, err := s.Follow.Viewing(ctx, viewer, author)
	if err != nil {
		return p, err
	}
	if !view.SeesPosts() {
		return data.Post{}, problem.NotFound("There is no such post, or you can't see it.")
	}
	return p, nil
}

// Delete deletes author's post with the ID in id; a 404 if they have none.
func (s *Service) Delete(ctx context.Context, author int64, id string) error {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return problem.NotFound("There is no such post.")
	}
	err = s.DB.DeletePost(ctx, author, n)
	if errors.Is(err, data.ErrNotFound) {
		return problem.NotFound("You have no such post; it may have been deleted already.")
	}
	return err
}
