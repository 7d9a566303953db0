package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/connectbook/connectbook/internal/data"
)

// Helpers for the social network's tests: members signed in in a browser
// of their own, forms sent with the session's token, and readers of the
// posts, people and counts a page shows.

// join creates the account name and returns a browser signed in as it.
func (s *server) join(name string) *browser {
	s.t.Helper()
	s.addUser(name, alicePW)
	b := s.browser()
	b.mustLogin(name, alicePW)
	return b
}

// userID returns the ID of the account name.
func (s *server) userID(name string) int64 {
	s.t.Helper()
	u, err := s.st.DB.UserByUsername(context.Background(), name)
	if err != nil {
		s.t.Fatalf("user %s: %v", name, err)
	}
	return u.ID
}

// rel returns how the user a stands with the user b, from the database.
func (s *server) rel(a, b string) data.Relationship {
	s.t.Helper()
	r, err := s.st.DB.Relationship(context.Background(), s.userID(a), s.userID(b))
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// store writes a post straight into the database (no rate limit, no
// mentions), and returns its ID.
func (s *server) store(name, body string) int64 {
	s.t.Helper()
	p, err := s.st.DB.CreatePost(context.Background(), s.userID(name), body, nil, s.clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return p.ID
}

// count runs a count(*) query with ? placeholders turned into the
// database's own.
func (s *server) count(query string, args ...any) int {
	s.t.Helper()
	if s.st.DB.Postgres() {
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", "$"+strconv.Itoa(i), 1)
		}
	}
	var n int
	if err := s.st.DB.SQL.QueryRow(query, args...).Scan(&n); err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// send posts form (nil for none) with the session's form token.
func (b *browser) send(path string, form url.Values) *response {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.csrf())
	return b.post(path, form)
}

// must sends form and wants the redirect that follows a change.
func (b *browser) must(path string, form url.Values) *response {
	b.t.Helper()
	r := b.send(path, form)
	if r.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("POST %s: status %d: %s", path, r.StatusCode, mainOf(r.body))
	}
	return r
}

// write posts body from the home page and returns the new post's ID.
func (b *browser) write(body string) int64 {
	b.t.Helper()
	b.must("/posts", url.Values{"body": {body}})
	ids := postIDs(b.page("/").body)
	if len(ids) == 0 {
		b.t.Fatalf("the post %.30q is not in its author's feed", body)
	}
	return ids[0] // the newest
}

// page gets path and wants a 200.
func (b *browser) page(path string) *response {
	b.t.Helper()
	r := b.get(path)
	if r.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: status %d: %s", path, r.StatusCode, mainOf(r.body))
	}
	return r
}

var (
	postIDRE   = regexp.MustCompile(`<li class="post" id="post-(\d+)">`)
	personRE   = regexp.MustCompile(`class="person-name" href="/u/([a-z0-9_]+)"`)
	unreadRE   = regexp.MustCompile(`<span class="visually-hidden">, (\d+) unread</span>`)
	olderRE    = regexp.MustCompile(`href="([^"]*\?before=[^"]*)">Older posts</a>`)
	mainRE     = regexp.MustCompile(`(?s)<main>(.*)</main>`)
	notifRE    = regexp.MustCompile(`(?s)<li class="notification([^"]*)">(.*?)</li>`)
	postBodyRE = regexp.MustCompile(`(?s)<div class="post-body" dir="auto">(.*?)</div>`)
)

// postIDs returns the IDs of the posts a page lists, in order.
func postIDs(body string) []int64 {
	var ids []int64
	for _, m := range postIDRE.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, n)
	}
	return ids
}

func hasPost(body string, id int64) bool { return slices.Contains(postIDs(body), id) }

// people returns the usernames a page lists as people.
func people(body string) []string {
	var names []string
	for _, m := range personRE.FindAllStringSubmatch(body, -1) {
		names = append(names, m[1])
	}
	return names
}

// unread returns the count of unread notifications the menu shows.
func unread(body string) int {
	m := unreadRE.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// older returns the page's "Older posts" link, or "".
func older(body string) string {
	m := olderRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// notification is one entry of the notifications page.
type notification struct {
	class, text string
}

func notifications(body string) []notification {
	var out []notification
	for _, m := range notifRE.FindAllStringSubmatch(body, -1) {
		out = append(out, notification{class: m[1], text: m[2]})
	}
	return out
}

// mainOf is the main part of a page, for messages.
func mainOf(body string) string {
	if m := mainRE.FindStringSubmatch(body); m != nil {
		body = m[1]
	}
	body = strings.TrimSpace(body)
	if len(body) > 1500 {
		body = body[:1500] + "…"
	}
	return body
}
