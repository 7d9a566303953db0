package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/feed"
	"github.com/connectbook/connectbook/internal/post"
)

// TestSocial checks the social network's pages from each viewer's side,
// on every backend: what private accounts, blocks, mutes and deleted
// accounts let each one see on every page that lists posts or people;
// paging while posts arrive; markup typed by users staying text; the form
// token on every new POST; the posting limit; and 4xx answers to bad
// input.
func TestSocial(t *testing.T) {
	forEachBackend(t, map[string]func(*testing.T, *server){
		"private_accounts":      testPrivateAccounts,
		"blocks":                testBlocks,
		"mutes":                 testMutes,
		"deleted_users":         testDeletedUsers,
		"pagination":            testPagination,
		"bad_cursors":           testBadCursors,
		"xss_inert":             testXSSInert,
		"csrf_on_new_posts":     testSocialCSRF,
		"post_rate_limit":       testPostRateLimit,
		"bad_input_4xx":         testSocialBadInput,
		"notifications":         testNotifications,
		"notifications_privacy": testNotificationsPrivacy,
	})
}

// sees checks what a browser sees of a post on the pages that can show
// it: the author's profile, the post's own page and, signed in, the home
// feed (when feed is set: the viewer follows the author or is them).
func sees(t *testing.T, who string, b *browser, author string, id int64, text string, want, feed bool) {
	t.Helper()
	r := b.page("/u/" + author)
	if hasPost(r.body, id) != want || strings.Contains(r.body, text) != want {
		t.Errorf("%s on /u/%s: sees the post %v, want %v", who, author, !want, want)
	}
	r = b.get("/posts/" + strconv.FormatInt(id, 10))
	if want && (r.StatusCode != http.StatusOK || !strings.Contains(r.body, text)) {
		t.Errorf("%s on /posts/%d: status %d, want the post", who, id, r.StatusCode)
	}
	if !want && (r.StatusCode != http.StatusNotFound || strings.Contains(r.body, text)) {
		t.Errorf("%s on /posts/%d: status %d, want 404 without the text", who, id, r.StatusCode)
	}
	if feed {
		r = b.page("/")
		if hasPost(r.body, id) != want || strings.Contains(r.body, text) != want {
			t.Errorf("%s's home feed: has the post %v, want %v", who, !want, want)
		}
	}
}

// lists checks the people a browser sees on owner's follower and
// following pages.
func lists(t *testing.T, who string, b *browser, owner string, followers, following []string) {
	t.Helper()
	for _, l := range []struct {
		path string
		want []string
	}{{"/u/" + owner + "/followers", followers}, {"/u/" + owner + "/following", following}} {
		got := people(b.page(l.path).body)
		slices.Sort(got)
		want := slices.Clone(l.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s on %s: lists %v, want %v", who, l.path, got, want)
		}
	}
}

func testPrivateAccounts(t *testing.T, s *server) {
	priv := s.join("priv")
	fan := s.join("fan")
	pend := s.join("pend")
	stranger := s.join("stranger")
	s.join("pub")
	waiter := s.join("waiter")
	anon := s.browser()
	priv.must("/profile", url.Values{"display_name": {"Priv Ate"}, "bio": {"BIO-OF-PRIV"}})
	priv.must("/settings/privacy", url.Values{"private": {"on"}})
	priv.must("/u/pub/follow", nil)
	r := fan.must("/u/priv/follow", nil)
	if page := fan.page(r.Header.Get("Location")).body; !strings.Contains(page, "you have asked to follow them") ||
		!strings.Contains(page, "You have asked to follow") || !strings.Contains(page, "Cancel follow request") {
		t.Fatalf("asking to follow a private account: the page does not say it was asked:\n%s", mainOf(page))
	}
	priv.must("/follow-requests/fan/approve", nil)
	pend.must("/u/priv/follow", nil)
	id := priv.write("PRIV-SECRET hello @fan and @stranger")

	viewers := []struct {
		name   string
		b      *browser
		sees   bool
		feed   bool
		signed bool
	}{
		{"the owner", priv, true, true, true},
		{"an approved follower", fan, true, true, true},
		{"a pending requester", pend, false, true, true},
		{"a stranger", stranger, false, true, true},
		{"a signed-out visitor", anon, false, false, false},
	}
	for _, v := range viewers {
		// Everyone sees the name and the bio.
		r = v.b.page("/u/priv")
		if !strings.Contains(r.body, "Priv Ate") || !strings.Contains(r.body, "BIO-OF-PRIV") {
			t.Errorf("%s does not see the private account's name and bio", v.name)
		}
		// The counts link to the lists: for those who see the posts only.
		if strings.Contains(r.body, `href="/u/priv/followers"><strong>`) != v.sees {
			t.Errorf("%s: sees the counts %v, want %v", v.name, !v.sees, v.sees)
		}
		sees(t, v.name, v.b, "priv", id, "PRIV-SECRET", v.sees, v.feed)
		if v.sees {
			lists(t, v.name, v.b, "priv", []string{"fan"}, []string{"pub"})
		} else {
			lists(t, v.name, v.b, "priv", nil, nil)
		}
		// An older page of the profile shows no more.
		r = v.b.page("/u/priv?before=" + strconv.FormatInt(id+1, 10))
		if hasPost(r.body, id) != v.sees {
			t.Errorf("%s on an older page of /u/priv: sees the post %v, want %v", v.name, !v.sees, v.sees)
		}
		// Search finds the account, by name; no post comes with it.
		r = v.b.page("/search?q=priv")
		if !slices.Contains(people(r.body), "priv") || strings.Contains(r.body, "PRIV-SECRET") {
			t.Errorf("%s searching for priv: %v", v.name, people(r.body))
		}
	}
	if r := pend.page("/u/priv"); !strings.Contains(r.body, "You have asked to follow") {
		t.Error("a pending requester's view of the profile does not say so")
	}
	// The mention told the follower, not the stranger, who can't see it.
	if r := fan.page("/notifications"); !strings.Contains(r.body, "PRIV-SECRET") {
		t.Errorf("the approved follower was not told of the mention:\n%s", mainOf(r.body))
	}
	if r := stranger.page("/notifications"); strings.Contains(r.body, "PRIV-SECRET") || strings.Contains(r.body, "mentioned you") {
		t.Errorf("a stranger was told of a private account's mention:\n%s", mainOf(r.body))
	}
	if n := s.count(`SELECT count(*) FROM notifications WHERE user_id = ? AND kind = 'mention'`, s.userID("stranger")); n != 0 {
		t.Errorf("%d mention notifications stored for a stranger to a private account", n)
	}
	// The owner approves the pending request: now they see the posts.
	if r := priv.page("/follow-requests"); !slices.Contains(people(r.body), "pend") {
		t.Errorf("the owner's requests list lacks pend: %v", people(r.body))
	}
	priv.must("/follow-requests/pend/approve", nil)
	sees(t, "a newly approved follower", pend, "priv", id, "PRIV-SECRET", true, true)
	// A declined request gives nothing.
	stranger.must("/u/priv/follow", nil)
	priv.must("/follow-requests/stranger/decline", nil)
	sees(t, "a declined requester", stranger, "priv", id, "PRIV-SECRET", false, true)
	if s.rel("stranger", "priv").Requested {
		t.Error("the declined request is still pending")
	}
	// Unfollowing a private account ends the access.
	pend.must("/u/priv/unfollow", nil)
	sees(t, "a former follower", pend, "priv", id, "PRIV-SECRET", false, true)
	// Going public shows the posts to all and approves the waiting.
	waiter.must("/u/priv/follow", nil)
	if s.rel("waiter", "priv").Following {
		t.Fatal("a request to a private account made a follow at once")
	}
	priv.must("/settings/privacy", url.Values{})
	sees(t, "a signed-out visitor, the account public", anon, "priv", id, "PRIV-SECRET", true, false)
	sees(t, "a stranger, the account public", stranger, "priv", id, "PRIV-SECRET", true, false)
	if !s.rel("waiter", "priv").Following {
		t.Error("going public did not approve the waiting request")
	}
	lists(t, "a signed-out visitor, the account public", anon, "priv", []string{"fan", "waiter"}, []string{"pub"})
}

func testBlocks(t *testing.T, s *server) {
	alice := s.join("alice")
	mal := s.join("mal")
	obs := s.join("obs")
	alice.must("/profile", url.Values{"display_name": {"Alice A"}, "bio": {"ALICE-BIO"}})
	mal.must("/u/alice/follow", nil)
	alice.must("/u/mal/follow", nil)
	obs.must("/u/alice/follow", nil)
	alice.must("/u/obs/follow", nil)
	malPost := mal.write("MAL-BEFORE hi @alice")
	alicePost := alice.write("ALICE-SECRET hello @mal")
	// Before the block, each sees the other's post.
	sees(t, "mal before the block", mal, "alice", alicePost, "ALICE-SECRET", true, true)
	sees(t, "alice before the block", alice, "mal", malPost, "MAL-BEFORE", true, true)
	if r := alice.page("/notifications"); !strings.Contains(r.body, "MAL-BEFORE") {
		t.Fatalf("setup: alice was not told of mal's mention")
	}

	r := alice.must("/u/mal/block", nil)
	if loc := r.Header.Get("Location"); loc != "/u/mal" {
		t.Errorf("block redirects to %q", loc)
	}
	// Follows end both ways.
	if rel := s.rel("alice", "mal"); rel.Following || rel.FollowedBy || !rel.Blocking {
		t.Fatalf("after the block: %+v", rel)
	}
	lists(t, "an onlooker", obs, "alice", []string{"obs"}, []string{"obs"})
	lists(t, "an onlooker", obs, "mal", nil, nil)

	// The blocked user sees the name only: no bio, posts or lists.
	r = mal.page("/u/alice")
	if !strings.Contains(r.body, "Alice A") || strings.Contains(r.body, "ALICE-BIO") || strings.Contains(r.body, "joined") ||
		len(postIDs(r.body)) > 0 || !strings.Contains(r.body, "has blocked you") {
		t.Errorf("the blocked user's view of the blocker's profile:\n%s", mainOf(r.body))
	}
	if strings.Contains(r.body, `action="/u/alice/follow"`) {
		t.Error("the blocked user is offered a follow button")
	}
	sees(t, "the blocked user", mal, "alice", alicePost, "ALICE-SECRET", false, true)
	if r := mal.page("/u/alice?before=" + strconv.FormatInt(alicePost+1, 10)); hasPost(r.body, alicePost) {
		t.Error("the blocked user sees the post on an older page of the profile")
	}
	lists(t, "the blocked user", mal, "alice", nil, nil)
	// Nor does search or "recently joined" show the blocker to them.
	if got := people(mal.page("/search?q=ali").body); slices.Contains(got, "alice") {
		t.Errorf("the blocked user finds the blocker: %v", got)
	}
	// Nor the blocker's post in their notifications (the mention before).
	if r := mal.page("/notifications"); strings.Contains(r.body, "ALICE-SECRET") {
		t.Errorf("the blocked user still reads the blocker's post in a notification:\n%s", mainOf(r.body))
	}
	// They can't follow or ask to.
	if r := mal.send("/u/alice/follow", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("the blocked user following: %d, want 403", r.StatusCode)
	}
	alice.must("/settings/privacy", url.Values{"private": {"on"}})
	if r := mal.send("/u/alice/follow", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("the blocked user asking to follow a private account: %d, want 403", r.StatusCode)
	}
	alice.must("/settings/privacy", url.Values{})
	if rel := s.rel("mal", "alice"); rel.Following || rel.Requested {
		t.Fatalf("the blocked user follows after all: %+v", rel)
	}
	// Their mentions do not reach the blocker, and the block took their
	// earlier ones away.
	before := unread(alice.page("/profile").body)
	mal.write("MAL-AFTER @alice look")
	r = alice.page("/notifications")
	if unread(r.body) != before || strings.Contains(r.body, "MAL-AFTER") || strings.Contains(r.body, "MAL-BEFORE") {
		t.Errorf("the blocker is told of the blocked user's mentions (unread %d, was %d):\n%s", unread(r.body), before, mainOf(r.body))
	}
	if strings.Contains(r.body, `href="/u/mal"`) {
		t.Errorf("the blocker's notifications still show the blocked user")
	}
	if n := s.count(`SELECT count(*) FROM notifications WHERE user_id = ? AND actor_id = ?`, s.userID("alice"), s.userID("mal")); n != 0 {
		t.Errorf("%d notifications of alice's from the user she blocks are stored", n)
	}
	// The blocker sees none of the blocked user's posts in the feed, and
	// can't follow them while blocking.
	if r := alice.page("/"); strings.Contains(r.body, "MAL-") || hasPost(r.body, malPost) {
		t.Error("the blocker's feed shows the blocked user's posts")
	}
	if r := alice.page("/u/mal"); len(postIDs(r.body)) > 0 || !strings.Contains(r.body, "You have blocked @mal") {
		t.Errorf("the blocker's view of the blocked profile:\n%s", mainOf(r.body))
	}
	if r := alice.send("/u/mal/follow", nil); r.StatusCode/100 != 4 || s.rel("alice", "mal").Following {
		t.Errorf("the blocker following the blocked user: %d", r.StatusCode)
	}
	if r := alice.page("/settings/privacy"); !slices.Contains(people(r.body), "mal") {
		t.Error("the privacy page does not list the blocked user")
	}
	// Unblocking: the follows the block ended stay ended, the profile
	// shows again, and following works again.
	alice.must("/u/mal/unblock", nil)
	if rel := s.rel("alice", "mal"); rel.Following || rel.FollowedBy || rel.Blocking {
		t.Fatalf("after unblocking: %+v", rel)
	}
	if r := mal.page("/u/alice"); !strings.Contains(r.body, "ALICE-BIO") || !hasPost(r.body, alicePost) {
		t.Error("after unblocking, the profile is still hidden")
	}
	mal.must("/u/alice/follow", nil)
	sees(t, "mal after unblocking and following", mal, "alice", alicePost, "ALICE-SECRET", true, true)
	// A block the other way round hides as much.
	mal.must("/u/alice/block", nil)
	sees(t, "alice, blocked by mal", alice, "mal", malPost, "MAL-BEFORE", false, true)
	lists(t, "alice, blocked by mal", alice, "mal", nil, nil)
}

func testMutes(t *testing.T, s *server) {
	vic := s.join("vic")
	noisy := s.join("noisy")
	s.join("calm")
	other := s.join("other")
	vic.must("/u/noisy/follow", nil)
	vic.must("/u/calm/follow", nil)
	other.must("/u/noisy/follow", nil)
	calmPost := s.store("calm", "CALM-1")
	// More of the muted user's posts than a page holds, so that paging
	// has to skip them.
	for i := range feed.PageSize + 5 {
		s.store("noisy", fmt.Sprintf("NOISY-BULK-%d", i))
	}
	s.clock.Advance(post.Window + time.Second) // past the posting limit
	noisyPost := noisy.write("NOISY-1")
	r := vic.must("/u/noisy/mute", nil)
	if r.Header.Get("Location") != "/u/noisy" {
		t.Errorf("mute redirects to %q", r.Header.Get("Location"))
	}
	r = vic.page("/")
	if strings.Contains(r.body, "NOISY-") || !hasPost(r.body, calmPost) {
		t.Errorf("the muter's feed: muted posts shown or others missing: %v", postIDs(r.body))
	}
	if older(r.body) != "" {
		t.Errorf("the muter's feed pages on through muted posts: %q", older(r.body))
	}
	// On the profile, the post page, and for everyone else: unchanged.
	sees(t, "the muter", vic, "noisy", noisyPost, "NOISY-1", true, false)
	if r := other.page("/"); !strings.Contains(r.body, "NOISY-BULK-") {
		t.Error("muting hid the posts from someone else's feed")
	}
	// Still a follower, still told of mentions (muting is for the feed).
	lists(t, "the muted user", noisy, "noisy", []string{"other", "vic"}, nil)
	noisy.write("@vic NOISY-MENTION")
	if r := vic.page("/notifications"); !strings.Contains(r.body, "NOISY-MENTION") {
		t.Error("muting stopped mention notifications; it should hide the feed only")
	}
	if r := vic.page("/settings/privacy"); !slices.Contains(people(r.body), "noisy") {
		t.Error("the privacy page does not list the muted user")
	}
	// The muted user can't tell.
	if r := noisy.page("/u/vic"); strings.Contains(strings.ToLower(r.body), "muted you") || strings.Contains(r.body, "mutes you") {
		t.Error("the muted user is told")
	}
	vic.must("/u/noisy/unmute", nil)
	if r := vic.page("/"); !strings.Contains(r.body, "NOISY-") {
		t.Error("unmuting did not bring the posts back to the feed")
	}
	if r := vic.send("/u/vic/mute", nil); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("muting oneself: %d, want 422", r.StatusCode)
	}
}

func testDeletedUsers(t *testing.T, s *server) {
	vic := s.join("vic")
	gone := s.join("gone")
	priv := s.join("priv")
	s.join("gone2")
	anon := s.browser()
	priv.must("/settings/privacy", url.Values{"private": {"on"}})
	gone.must("/profile", url.Values{"display_name": {"Gone Soon"}, "bio": {"GONE-BIO"}})
	gone.must("/u/vic/follow", nil)
	vic.must("/u/gone/follow", nil)
	gone.must("/u/priv/follow", nil) // a request
	gonePost := gone.write("GONE-POST hello @vic")
	vicPost := vic.write("VIC-POST")
	gone2Post := s.store("gone2", "GONE2-POST")
	vic.must("/u/gone2/follow", nil)
	if r := vic.page("/"); !hasPost(r.body, gonePost) || !hasPost(r.body, gone2Post) || unread(r.body) == 0 {
		t.Fatalf("setup: vic's feed %v, unread %d", postIDs(r.body), unread(r.body))
	}
	goneID, gone2ID := s.userID("gone"), s.userID("gone2")

	// gone deletes the account from the account center; gone2 is deleted
	// in the database (as an administrator would).
	if r := gone.postForm("/settings/delete", url.Values{"confirm_username": {"gone"}}); r.StatusCode != http.StatusOK || gone.token() != "" {
		t.Fatalf("deleting the account: %d", r.StatusCode)
	}
	if err := s.st.DB.DeleteUser(context.Background(), gone2ID); err != nil {
		t.Fatal(err)
	}

	for _, id := range []int64{goneID, gone2ID} {
		for _, q := range []string{
			`SELECT count(*) FROM posts WHERE author_id = ?`,
			`SELECT count(*) FROM follows WHERE follower_id = ? OR followee_id = ?`,
			`SELECT count(*) FROM follow_requests WHERE requester_id = ? OR target_id = ?`,
			`SELECT count(*) FROM notifications WHERE user_id = ? OR actor_id = ?`,
			`SELECT count(*) FROM search_keys WHERE user_id = ?`,
		} {
			args := []any{id}
			if strings.Count(q, "?") == 2 {
				args = append(args, id)
			}
			if n := s.count(q, args...); n != 0 {
				t.Errorf("user %d deleted: %d rows left by %s", id, n, q)
			}
		}
	}
	for _, b := range []*browser{vic, anon} {
		for _, p := range []string{"/u/gone", "/u/gone/followers", "/u/gone/following", "/u/gone2",
			"/posts/" + strconv.FormatInt(gonePost, 10), "/posts/" + strconv.FormatInt(gone2Post, 10)} {
			if r := b.get(p); r.StatusCode != http.StatusNotFound || strings.Contains(r.body, "GONE") {
				t.Errorf("GET %s after the deletion: %d, want 404", p, r.StatusCode)
			}
		}
	}
	for _, action := range []string{"follow", "unfollow", "block", "mute"} {
		if r := vic.send("/u/gone/"+action, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("POST /u/gone/%s: %d, want 404", action, r.StatusCode)
		}
	}
	r := vic.page("/")
	if strings.Contains(r.body, "GONE") || !hasPost(r.body, vicPost) {
		t.Errorf("vic's feed after the deletion: %v", postIDs(r.body))
	}
	if unread(r.body) != 0 {
		t.Errorf("the menu counts %d unread from a deleted user", unread(r.body))
	}
	r = vic.page("/notifications")
	if strings.Contains(r.body, `href="/u/gone"`) || strings.Contains(r.body, "GONE-POST") || len(notifications(r.body)) != 0 {
		t.Errorf("vic's notifications after the deletion:\n%s", mainOf(r.body))
	}
	lists(t, "vic", vic, "vic", nil, nil)
	if r := vic.page("/u/vic"); !strings.Contains(r.body, "<strong>0</strong> followers") || !strings.Contains(r.body, "<strong>0</strong> following") {
		t.Errorf("vic's counts after the deletion:\n%s", mainOf(r.body))
	}
	if r := priv.page("/follow-requests"); slices.Contains(people(r.body), "gone") {
		t.Error("the deleted user's request is still waiting")
	}
	if r := priv.page("/notifications"); strings.Contains(r.body, `href="/u/gone"`) {
		t.Error("the private account's notifications still show the deleted user")
	}
	for _, q := range []string{"gone", "Gone Soon"} {
		if got := people(anon.page("/search?q=" + url.QueryEscape(q)).body); slices.Contains(got, "gone") || slices.Contains(got, "gone2") {
			t.Errorf("search %q after the deletion: %v", q, got)
		}
	}
	// Someone new who takes the name starts from nothing.
	fresh := s.join("gone")
	r = anon.page("/u/gone")
	if len(postIDs(r.body)) != 0 || strings.Contains(r.body, "GONE-BIO") || !strings.Contains(r.body, "<strong>0</strong> followers") {
		t.Errorf("the new owner of the name inherits something:\n%s", mainOf(r.body))
	}
	if r := fresh.page("/notifications"); len(notifications(r.body)) != 0 {
		t.Errorf("the new owner of the name has notifications:\n%s", mainOf(r.body))
	}
}

// walk follows the "Older posts" links from path, calling between(page)
// after each page, and returns the post IDs in the order seen.
func walk(t *testing.T, b *browser, path string, between func(int)) (ids []int64, pages int) {
	t.Helper()
	for path != "" {
		r := b.page(path)
		ids = append(ids, postIDs(r.body)...)
		pages++
		if pages > 1000 {
			t.Fatal("the pages do not end")
		}
		path = older(r.body)
		if between != nil {
			between(pages)
		}
	}
	return ids, pages
}

// checkWalk wants the IDs seen newest first, each once, and exactly want.
func checkWalk(t *testing.T, what string, got []int64, want map[int64]bool) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i] >= got[i-1] {
			t.Fatalf("%s: post %d after %d (a duplicate or out of order)", what, got[i], got[i-1])
		}
	}
	seen := map[int64]bool{}
	for _, id := range got {
		seen[id] = true
		if !want[id] {
			t.Errorf("%s: post %d should not be there", what, id)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("%s: post %d is missing (a gap)", what, id)
		}
	}
}

func testPagination(t *testing.T, s *server) {
	vic := s.join("vic")
	alice := s.join("alice")
	s.join("bob")
	s.join("carl")
	vic.must("/u/alice/follow", nil)
	vic.must("/u/bob/follow", nil)
	feedWant, aliceWant := map[int64]bool{}, map[int64]bool{}
	add := func(name string, n int) {
		for i := range n {
			id := s.store(name, fmt.Sprintf("%s post %d", name, i))
			if name != "carl" {
				feedWant[id] = true
			}
			if name == "alice" {
				aliceWant[id] = true
			}
		}
	}
	// Interleaved authors, and long runs of someone vic does not follow
	// between them, so that pages span the feed's ID ranges.
	for range 3 {
		add("alice", 9)
		add("carl", 3)
		add("bob", 7)
		add("vic", 2)
	}
	s.fill("carl", 6000)
	add("alice", 5)
	add("bob", 5)
	s.fill("carl", 40000)
	add("alice", 4)
	add("vic", 1)
	// The newest of vic's feed 4096 posts before the newest of all: just
	// past the first range of IDs the feed reads (data.feedWindow).
	add("alice", 1)
	s.fill("carl", 4096)
	if len(feedWant) <= 2*feed.PageSize {
		t.Fatalf("setup: %d posts, want more than two pages", len(feedWant))
	}
	s.clock.Advance(post.Window + time.Second) // past the posting limit

	// While vic reads, new posts arrive (and one unseen post is deleted):
	// later pages show neither, and nothing else goes missing or twice.
	var deleted int64
	ids, pages := walk(t, vic, "/", func(page int) {
		aliceWant[alice.write(fmt.Sprintf("new while reading %d", page))] = true // for her profile, later
		s.store("bob", fmt.Sprintf("bob new %d", page))
		s.store("carl", fmt.Sprintf("carl new %d", page))
		if page == 1 {
			for id := range feedWant { // the oldest post of vic's feed
				if deleted == 0 || id < deleted {
					deleted = id
				}
			}
			if err := s.st.DB.DeletePost(context.Background(), s.userID(s.authorOf(deleted)), deleted); err != nil {
				t.Fatal(err)
			}
			delete(feedWant, deleted)
			delete(aliceWant, deleted)
		}
	})
	checkWalk(t, "the home feed", ids, feedWant)
	if pages < 3 {
		t.Errorf("the home feed took %d pages, want 3 or more", pages)
	}
	// Each page is full but the last.
	r := vic.page("/")
	if n := len(postIDs(r.body)); n != feed.PageSize {
		t.Errorf("the first page shows %d posts, want %d", n, feed.PageSize)
	}
	if !strings.Contains(r.body, ">Older posts</a>") {
		t.Error("no Older posts link")
	}
	// After the last page: no link, and a way back.
	last := ids[len(ids)-1]
	r = vic.page("/?before=" + strconv.FormatInt(last, 10))
	if len(postIDs(r.body)) != 0 || older(r.body) != "" || !strings.Contains(r.body, "No older posts") {
		t.Errorf("past the last page:\n%s", mainOf(r.body))
	}

	// A profile pages the same way.
	aliceIDs, _ := walk(t, vic, "/u/alice", func(page int) {
		alice.write(fmt.Sprintf("profile new %d", page))
	})
	checkWalk(t, "alice's profile", aliceIDs, aliceWant)
}

// fill writes n posts as name in one statement.
func (s *server) fill(name string, n int) {
	s.t.Helper()
	_, err := s.st.DB.SQL.Exec(fmt.Sprintf(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < %d)
		INSERT INTO posts (author_id, body, created_at) SELECT %d, 'filler', %d FROM seq`, n, s.userID(name), s.clock.Now().UnixMicro()))
	if err != nil {
		s.t.Fatal(err)
	}
}

// authorOf returns the username of a post's author.
func (s *server) authorOf(id int64) string {
	s.t.Helper()
	p, err := s.st.DB.Post(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return p.Username
}

func testBadCursors(t *testing.T, s *server) {
	alice := s.join("alice")
	id := alice.write("hello")
	bad := []string{"abc", "-1", "0", "1e9", "99999999999999999999999", "%00", "%ff", "%ED%A0%80", "5abc", "0x10", "1.5", "+-1", "%20", "9223372036854775808"}
	for _, path := range []string{"/", "/u/alice", "/notifications"} {
		for _, c := range bad {
			r := alice.get(path + "?before=" + c)
			if r.StatusCode < 400 || r.StatusCode > 499 {
				t.Errorf("GET %s?before=%s: %d, want a 4xx", path, c, r.StatusCode)
			}
			if hasPost(r.body, id) {
				t.Errorf("GET %s?before=%s shows posts", path, c)
			}
		}
		// The largest ID is a cursor, just one before every post.
		if r := alice.page(path + "?before=9223372036854775807"); path != "/notifications" && !hasPost(r.body, id) {
			t.Errorf("GET %s?before=max does not show the post", path)
		}
	}
	// Signed out too.
	anon := s.browser()
	for _, c := range bad {
		if r := anon.get("/u/alice?before=" + c); r.StatusCode < 400 || r.StatusCode > 499 {
			t.Errorf("signed out: GET /u/alice?before=%s: %d, want a 4xx", c, r.StatusCode)
		}
	}
	// The lists of people page by username.
	for _, c := range []string{"ABC", "%00", "%ff", "a%20b", strings.Repeat("a", 31), "x'--", "%E2%80%AE"} {
		for _, p := range []string{"/u/alice/followers", "/u/alice/following"} {
			if r := anon.get(p + "?after=" + c); r.StatusCode < 400 || r.StatusCode > 499 {
				t.Errorf("GET %s?after=%s: %d, want a 4xx", p, c, r.StatusCode)
			}
		}
	}
}

// xssPayloads are posts, names and searches that try to become markup.
var xssPayloads = []string{
	`<script>alert("post")</script>`,
	`"><img src=x onerror=alert(2)>`,
	`javascript:alert(3)`,
	`see javascript://example.com/%0Aalert(4)`,
	`<a href="javascript:alert(5)">click</a>`,
	`@<b>x</b> and @bob<i>y</i>`,
	`http://example.com/"onmouseover="alert(6)`,
	`https://example.com/?q="><script>alert(7)</script>`,
	`https://example.com/'onfocus='alert(8)'autofocus='`,
	`data:text/html;base64,PHNjcmlwdD5hbGVydCg5KTwvc2NyaXB0Pg==`,
	`vbscript:msgbox(10) and JaVaScRiPt:alert(11)`,
	`http://example.com/a<svg/onload=alert(12)>`,
	`https://example.com/&quot;&gt;&lt;script&gt;`,
	`<iframe src="https://evil.example"></iframe>`,
	`HTTPS://Example.com/fine and http://example.com/(ok)`,
}

var (
	tagRE       = regexp.MustCompile(`<[^>]*>`)
	badTagRE    = regexp.MustCompile(`(?i)^<\s*/?\s*(script|img|svg|iframe|object|embed|b|i|math|style|base|frame|frameset)\b`)
	quotedRE    = regexp.MustCompile(`"[^"]*"`)
	onAttrRE    = regexp.MustCompile(`(?i)[\s"'/]on[a-z]+\s*=`)
	urlAttrRE   = regexp.MustCompile(`(?i)\s(href|src|action|formaction|background|poster)\s*=\s*"([^"]*)"`)
	anchorRE    = regexp.MustCompile(`<a ([^>]*)>`)
	hrefRE      = regexp.MustCompile(`href="([^"]*)"`)
	rawPayloads = []string{"<script", "<img", "<svg", "<iframe", "<b>", "<i>", `<a href="javascript`}
)

// inert checks that a page holds no markup from users: no tags but the
// app's own, no event handler attributes, no URL but the site's own paths
// and http(s) ones, and within posts only http(s) links and mentions.
func inert(t *testing.T, where, body string) {
	t.Helper()
	for _, raw := range rawPayloads {
		if strings.Contains(body, raw) {
			t.Errorf("%s: %q appears unescaped", where, raw)
		}
	}
	for _, tag := range tagRE.FindAllString(body, -1) {
		// Attribute values are in double quotes, which escaped text
		// cannot close: what is outside them is markup.
		if badTagRE.MatchString(tag) || onAttrRE.MatchString(quotedRE.ReplaceAllString(tag, `""`)) ||
			strings.Count(tag, `"`)%2 != 0 || strings.Contains(quotedRE.ReplaceAllString(tag, `""`), "'") {
			t.Errorf("%s: a tag from user input: %s", where, tag)
		}
		for _, m := range urlAttrRE.FindAllStringSubmatch(tag, -1) {
			u := html.UnescapeString(m[2])
			ok := strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") ||
				strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") || strings.HasPrefix(u, "?") || strings.HasPrefix(u, "#")
			if !ok || strings.ContainsAny(u, "\"<> \n") {
				t.Errorf("%s: %s=%q", where, m[1], u)
			}
		}
	}
	for _, m := range postBodyRE.FindAllStringSubmatch(body, -1) {
		for _, a := range anchorRE.FindAllStringSubmatch(m[1], -1) {
			h := hrefRE.FindStringSubmatch(a[1])
			if h == nil {
				t.Errorf("%s: a link in a post without an address: %s", where, a[0])
				continue
			}
			href := html.UnescapeString(h[1])
			if !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://") && !regexp.MustCompile(`^/u/[a-z0-9_]{3,30}$`).MatchString(href) {
				t.Errorf("%s: a link in a post to %q", where, href)
			}
		}
	}
}

func testXSSInert(t *testing.T, s *server) {
	alice := s.join("alice")
	bob := s.join("bob")
	alice.must("/profile", url.Values{"display_name": {`"><img src=x onerror=alert(1)>`}, "bio": {`<svg onload=alert(1)> javascript:alert(1)`}})
	bob.must("/profile", url.Values{"display_name": {`<script>alert(1)</script>`}, "bio": {"</textarea><b>bold</b>"}})
	carol := s.join("carol")
	carol.must("/profile", url.Values{"display_name": {`'><svg onload=alert(1)>`}})
	bob.must("/u/alice/follow", nil)
	alice.must("/u/bob/follow", nil)
	alice.must("/u/carol/block", nil) // carol's name on the privacy page
	var ids []int64
	for _, p := range xssPayloads {
		ids = append(ids, alice.write(p))
	}
	mention := bob.write(`@alice <img src=x onerror=alert(13)> "><script>alert(14)</script> @<b>alice</b>`)
	alice.must("/u/bob/mute", nil) // bob's name on the privacy page

	// Each post's text shows as typed (escaped), and its page is inert.
	for i, id := range ids {
		path := "/posts/" + strconv.FormatInt(id, 10)
		r := alice.page(path)
		inert(t, path, r.body)
		m := postBodyRE.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("%s: no post body", path)
		}
		if got := html.UnescapeString(tagRE.ReplaceAllString(m[1], "")); got != strings.TrimSpace(xssPayloads[i]) && !strings.Contains(xssPayloads[i], "://") {
			t.Errorf("%s: the text reads %q, want %q", path, got, xssPayloads[i])
		}
	}
	// The payloads with addresses became links, http(s) only.
	r := alice.page("/posts/" + strconv.FormatInt(ids[len(ids)-1], 10))
	for _, want := range []string{`href="https://Example.com/fine" rel="nofollow noopener noreferrer ugc"`, `href="http://example.com/%28ok%29"`} {
		if !strings.Contains(r.body, want) && !strings.Contains(r.body, strings.ReplaceAll(want, "%28ok%29", "(ok)")) {
			t.Errorf("no link %s in:\n%s", want, mainOf(r.body))
		}
	}
	r = alice.page("/posts/" + strconv.FormatInt(ids[5], 10))
	if !strings.Contains(r.body, `<a class="mention" href="/u/bob">@bob</a>`) {
		t.Errorf("the mention before markup is not a link:\n%s", mainOf(r.body))
	}
	pages := []struct {
		b    *browser
		path string
	}{
		{alice, "/"}, {alice, "/?before=" + strconv.FormatInt(ids[len(ids)-1], 10)}, {alice, "/u/alice"}, {alice, "/u/bob"},
		{alice, "/notifications"}, {alice, "/u/alice/followers"}, {alice, "/u/alice/following"}, {alice, "/settings/privacy"},
		{alice, "/search?q=" + url.QueryEscape(`<script>alert(15)</script>`)},
		{alice, "/search?q=" + url.QueryEscape(`"><img src=x onerror=alert(16)>`)},
		{alice, "/search?q=" + url.QueryEscape(`<`)}, {alice, "/search?q=" + url.QueryEscape(`"`)},
		{alice, "/posts/" + strconv.FormatInt(ids[0], 10) + "/delete"},
		{alice, "/posts/" + strconv.FormatInt(mention, 10)},
		{bob, "/"}, {bob, "/u/alice"}, {bob, "/u/bob/following"}, {bob, "/search?q=" + url.QueryEscape(`"`)},
		{s.browser(), "/u/alice"}, {s.browser(), "/search?q=%22%3E%3Cimg"}, {s.browser(), "/posts/" + strconv.FormatInt(ids[1], 10)},
	}
	for _, p := range pages {
		r := p.b.get(p.path)
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("GET %s: %d", p.path, r.StatusCode)
		}
		inert(t, p.path, r.body)
	}
	// The names show, escaped, where they are used.
	if r := alice.page("/notifications"); !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(r.body, "&lt;img src=x onerror=alert(13)&gt;") {
		t.Errorf("the notifications do not show the name and mention escaped:\n%s", mainOf(r.body))
	}
	if r := bob.page("/u/alice"); !strings.Contains(r.body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") || !strings.Contains(r.body, "&lt;svg onload=alert(1)&gt;") {
		t.Errorf("the profile does not show the name and bio escaped:\n%s", mainOf(r.body))
	}
	// A post's text goes back into the box escaped when it is refused.
	long := `</textarea><script>alert(17)</script>` + strings.Repeat("x", post.MaxLength)
	r = alice.send("/posts", url.Values{"body": {long}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, "&lt;/textarea&gt;&lt;script&gt;") {
		t.Errorf("a refused post: %d", r.StatusCode)
	}
	inert(t, "a refused post", r.body)
}

// socialState is everything the new POST routes can change for alice.
type socialState struct {
	Posts, Requests int
	Private         bool
	Rels            string
}

func (s *server) socialState() socialState {
	s.t.Helper()
	ctx := context.Background()
	u, err := s.st.DB.UserByUsername(ctx, "alice")
	if err != nil {
		s.t.Fatal(err)
	}
	st := socialState{Private: u.Private}
	if st.Posts, err = s.st.DB.CountPosts(ctx, u.ID); err != nil {
		s.t.Fatal(err)
	}
	if st.Requests, err = s.st.DB.CountFollowRequests(ctx, u.ID); err != nil {
		s.t.Fatal(err)
	}
	for _, other := range []string{"bob", "carol", "dave", "erin", "frank"} {
		st.Rels += fmt.Sprintf("%s %+v\n", other, s.rel("alice", other))
	}
	return st
}

func testSocialCSRF(t *testing.T, s *server) {
	alice := s.join("alice")
	bob := s.join("bob")
	carol := s.join("carol")
	for _, n := range []string{"dave", "erin", "frank"} {
		s.join(n)
	}
	other := s.browser()
	other.mustLogin("alice", alicePW) // another session of alice's
	alice.must("/settings/privacy", url.Values{"private": {"on"}})
	bob.must("/u/alice/follow", nil)
	carol.must("/u/alice/follow", nil)
	alice.must("/u/dave/follow", nil)
	alice.must("/u/erin/block", nil)
	alice.must("/u/frank/mute", nil)
	id := strconv.FormatInt(alice.write("a post to delete"), 10)

	// Each route, with a form that would change something.
	routes := []struct {
		path string
		form url.Values
	}{
		{"/posts", url.Values{"body": {"forged post"}}},
		{"/posts/" + id + "/delete", nil},
		{"/follow-requests/bob/approve", nil},
		{"/follow-requests/carol/decline", nil},
		{"/u/bob/follow", nil},
		{"/u/dave/unfollow", nil},
		{"/u/bob/block", nil},
		{"/u/erin/unblock", nil},
		{"/u/bob/mute", nil},
		{"/u/frank/unmute", nil},
		{"/settings/privacy", url.Values{}},
	}
	before := s.socialState()
	for _, rt := range routes {
		form := func(token string) url.Values {
			f := url.Values{}
			for k, v := range rt.form {
				f[k] = v
			}
			if token != "" {
				f.Set("csrf_token", token)
			}
			return f
		}
		for _, tc := range []struct {
			name   string
			form   url.Values
			header []string
		}{
			{"without a form token", form(""), nil},
			{"with an empty form token", url.Values{"csrf_token": {""}, "body": {"forged"}}, nil},
			{"with a wrong form token", form(randomToken()), nil},
			{"with another session's form token", form(other.csrf()), nil},
			{"from another site", form(alice.csrf()), []string{"Sec-Fetch-Site", "cross-site"}},
			{"from another origin", form(alice.csrf()), []string{"Origin", "https://evil.example"}},
		} {
			if r := alice.post(rt.path, tc.form, tc.header...); r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s %s: %d, want 403", rt.path, tc.name, r.StatusCode)
			}
		}
		// Signed out, with no session at all: sent to sign in, nothing done.
		if r := s.browser().post(rt.path, form(randomToken())); r.StatusCode != http.StatusForbidden && r.StatusCode != http.StatusSeeOther {
			t.Errorf("POST %s signed out: %d", rt.path, r.StatusCode)
		}
		if got := s.socialState(); got != before {
			t.Fatalf("a refused POST %s changed alice's state:\n%+v\nwas\n%+v", rt.path, got, before)
		}
	}
	if alice.signedInAs() != "alice" {
		t.Fatal("a refused request signed alice out")
	}
	s.wantEvent("csrf_rejected")
	// With the token each one goes through and changes something: the
	// checks above can see a change.
	for _, rt := range routes {
		f := url.Values{}
		for k, v := range rt.form {
			f[k] = v
		}
		alice.must(rt.path, f)
		if got := s.socialState(); got == before {
			t.Errorf("POST %s with the token changed nothing", rt.path)
		} else {
			before = got
		}
	}
}

func testPostRateLimit(t *testing.T, s *server) {
	alice := s.join("alice")
	bob := s.join("bob")
	for i := range post.Burst {
		if r := alice.send("/posts", url.Values{"body": {fmt.Sprintf("post %d", i)}}); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d: %d: %s", i+1, r.StatusCode, mainOf(r.body))
		}
		s.clock.Advance(post.Window / (2 * post.Burst))
	}
	text := "number 21 <keep me>\nsecond line"
	r := alice.send("/posts", url.Values{"body": {text}})
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the 21st post in 10 minutes: %d, want 429", r.StatusCode)
	}
	if !strings.Contains(r.body, "You have posted 20 times in the last 10 minutes") {
		t.Errorf("the 429 page does not say why:\n%s", mainOf(r.body))
	}
	if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if !regexp.MustCompile(`<textarea[^>]*>` + regexp.QuoteMeta(html.EscapeString(text)) + `</textarea>`).MatchString(strings.ReplaceAll(r.body, "&#34;", "&quot;")) {
		t.Errorf("the text is not kept in the box:\n%s", mainOf(r.body))
	}
	if !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Error("the box is not marked as refused")
	}
	if n := s.count(`SELECT count(*) FROM posts WHERE author_id = ?`, s.userID("alice")); n != post.Burst {
		t.Fatalf("%d posts stored, want %d", n, post.Burst)
	}
	// Another user is not held back.
	bob.must("/posts", url.Values{"body": {"bob is fine"}})
	// Once the oldest post is ten minutes old, one more goes through.
	s.clock.Advance(post.Window/2 + time.Second)
	alice.must("/posts", url.Values{"body": {text}})
	if r := alice.send("/posts", url.Values{"body": {"and again"}}); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right after: %d, want 429", r.StatusCode)
	}
}

func testSocialBadInput(t *testing.T, s *server) {
	alice := s.join("alice")
	s.join("bob")
	anon := s.browser()
	bobPost := strconv.FormatInt(s.store("bob", "BOB-POST"), 10)
	for _, b := range []*browser{alice, anon} {
		for _, p := range []string{"/posts/999999", "/posts/abc", "/posts/0", "/posts/-1", "/posts/1e3", "/posts/99999999999999999999",
			"/posts/%00", "/posts/%ff", "/posts/" + bobPost + "%00", "/posts/9223372036854775807", "/posts/%201",
			"/u/nobody", "/u/nobody/followers", "/u/nobody/following", "/u/%00/followers", "/u/a%ffb/following"} {
			if r := b.get(p); r.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
			}
		}
	}
	for _, p := range []string{"/posts/abc/delete", "/posts/999999/delete", "/posts/" + bobPost + "/delete"} {
		if r := alice.get(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
		if r := alice.send(p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.StatusCode)
		}
	}
	if r := anon.page("/posts/" + bobPost); !strings.Contains(r.body, "BOB-POST") {
		t.Fatal("deleting someone else's post took it away")
	}
	for _, action := range []string{"follow", "unfollow", "block", "unblock", "mute", "unmute"} {
		for _, name := range []string{"nobody", "%00", "a%ffb", strings.Repeat("x", 300)} {
			if r := alice.send("/u/"+name+"/"+action, nil); r.StatusCode != http.StatusNotFound {
				t.Errorf("POST /u/%.20s/%s: %d, want 404", name, action, r.StatusCode)
			}
		}
	}
	for _, action := range []string{"approve", "decline"} {
		for _, name := range []string{"nobody", "bob"} { // bob asked nothing
			if r := alice.send("/follow-requests/"+name+"/"+action, nil); r.StatusCode != http.StatusNotFound {
				t.Errorf("POST /follow-requests/%s/%s: %d, want 404", name, action, r.StatusCode)
			}
		}
	}
	for _, action := range []string{"follow", "block"} {
		if r := alice.send("/u/alice/"+action, nil); r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("POST /u/alice/%s: %d, want 422", action, r.StatusCode)
		}
	}

	// Post lengths are counted in characters.
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"501 characters", strings.Repeat("a", 501), 422, "Posts are at most 500 characters; this one has 501."},
		{"501 emoji", strings.Repeat("😀", 501), 422, "this one has 501"},
		{"empty", "  \r\n\t ", 422, "Write something first."},
		{"a right-to-left override", "abc\u202Egnp.exe", 422, "invisible characters"},
		{"a zero-width space", "a\u200Bb", 422, "invisible characters"},
		{"a line separator", "a\u2028b", 422, "control or invisible"},
	} {
		r := alice.send("/posts", url.Values{"body": {tc.body}})
		if r.StatusCode != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("a post of %s: %d, want %d saying %q", tc.name, r.StatusCode, tc.code, tc.want)
		}
	}
	for _, body := range []string{strings.Repeat("é", 500), strings.Repeat("😀", 500), strings.Repeat("语", 499) + "\n"} {
		id := alice.write(body)
		r := alice.page("/posts/" + strconv.FormatInt(id, 10))
		if !strings.Contains(r.body, strings.TrimSpace(body)) {
			t.Errorf("the post of 500 %.3s is not shown whole", body)
		}
	}
	// Line breaks are kept, tabs become spaces, white space at the ends goes.
	id := alice.write("  line one\r\n\tline two\n\n\n\nline three  ")
	if r := alice.page("/posts/" + strconv.FormatInt(id, 10)); !strings.Contains(r.body, ">line one\n line two\n\nline three</div>") {
		t.Errorf("line breaks:\n%s", mainOf(r.body))
	}
	// Text that is not text, in the form.
	token := alice.csrf()
	for _, raw := range []string{"%ff%fe", "a%00b", "ab%ED%A0%80cd", "ab%C0%AFcd", "a%1B%5B31mb", "%00"} {
		r := alice.postRaw("/posts", "csrf_token="+url.QueryEscape(token)+"&body="+raw)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("a post of %s: %d, want 400", raw, r.StatusCode)
		}
	}
	if r := alice.postRaw("/posts", "csrf_token="+url.QueryEscape(token)+"&body="+strings.Repeat("a", 1<<20)); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a megabyte post: %d, want 413", r.StatusCode)
	}
	if n := s.count(`SELECT count(*) FROM posts WHERE author_id = ?`, s.userID("alice")); n != 4 {
		t.Errorf("%d posts of alice's stored, want the 4 accepted", n)
	}
	// And in searches, signed in or not.
	for _, b := range []*browser{alice, anon} {
		for _, q := range []string{"%00", "ali%00ce", "%ff", "%ff%fe", "ab%ED%A0%80", "%C0%AF", "a%1Bb", strings.Repeat("a", 51), strings.Repeat("é", 51), strings.Repeat("x", 5000)} {
			r := b.get("/search?q=" + q)
			if r.StatusCode < 400 || r.StatusCode > 499 {
				t.Errorf("GET /search?q=%.20s: %d, want a 4xx", q, r.StatusCode)
			}
			if !utf8.ValidString(r.body) || strings.Contains(r.body, "\x00") {
				t.Errorf("GET /search?q=%.20s: the page echoes bytes that are not text", q)
			}
		}
		for _, q := range []string{strings.Repeat("é", 50), "@ALI", "%20%20ali%20%20", "%25", "_", "%5C"} {
			if r := b.get("/search?q=" + q); r.StatusCode != http.StatusOK {
				t.Errorf("GET /search?q=%s: %d, want 200", q, r.StatusCode)
			}
		}
	}
	if r := anon.page("/search?q=%40ALI"); !slices.Contains(people(r.body), "alice") {
		t.Error("searching @ALI does not find alice")
	}
	if r := anon.page("/search?q=%25"); !strings.Contains(r.body, "Nobody's username or name starts with") {
		t.Errorf("a %% in the search matches someone:\n%s", mainOf(r.body))
	}
	if logged := s.log.String(); strings.Contains(logged, "level=ERROR") {
		t.Errorf("bad input caused errors:\n%s", logged)
	}
}

func testNotifications(t *testing.T, s *server) {
	s.addUser("alice", alicePW)
	alice := s.browserAs(firefoxLinux, "alice", alicePW)
	bob := s.join("bob")
	carol := s.join("carol")
	carol.must("/settings/privacy", url.Values{"private": {"on"}})
	if r := alice.page("/"); unread(r.body) != 0 || strings.Contains(r.body, `class="count"`) {
		t.Fatalf("a new account has unread notifications")
	}
	// A new follower, a request, its approval, a mention.
	bob.must("/u/alice/follow", nil)
	if n := unread(alice.page("/").body); n != 1 {
		t.Errorf("after a new follower the menu counts %d, want 1", n)
	}
	alice.must("/u/carol/follow", nil)
	r := carol.page("/")
	if unread(r.body) != 1 {
		t.Errorf("after a request to follow the menu counts %d, want 1", unread(r.body))
	}
	r = carol.page("/notifications")
	if ns := notifications(r.body); len(ns) != 1 || !strings.Contains(ns[0].text, "asked to follow you") || !strings.Contains(ns[0].text, `href="/follow-requests"`) {
		t.Errorf("carol's notifications: %+v", ns)
	}
	if !strings.Contains(r.body, `<a href="/follow-requests">1 request to follow you</a>`) {
		t.Errorf("the notifications page does not point to the waiting request:\n%s", mainOf(r.body))
	}
	carol.must("/follow-requests/alice/approve", nil)
	mention := bob.write("hi @ALICE and @alice, MENTION-1 (and @carol, and @nobody_here, and @bob himself)")
	if n := unread(alice.page("/u/bob").body); n != 3 {
		t.Errorf("after a follow, an approval and a mention the menu counts %d, want 3", n)
	}
	// A sign-in from a new device: a security notice, in the list too.
	s.clock.Advance(time.Second)
	phone := s.browserAs(safariPhone, "alice", alicePW)
	if n := unread(alice.page("/search").body); n != 4 {
		t.Errorf("after a new sign-in the menu counts %d, want 4", n)
	}
	r = alice.page("/notifications")
	ns := notifications(r.body)
	if len(ns) != 4 {
		t.Fatalf("%d notifications, want 4:\n%s", len(ns), mainOf(r.body))
	}
	for i, want := range []struct{ class, text string }{
		{" unread security", `<span class="badge warn">Security</span>`},
		{" unread", `mentioned you: <a class="excerpt" href="/posts/` + strconv.FormatInt(mention, 10) + `"`},
		{" unread", "approved your request to follow them."},
		{" unread", "followed you."},
	} {
		if ns[i].class != want.class || !strings.Contains(ns[i].text, want.text) {
			t.Errorf("notification %d: class %q, %s; want class %q and %q", i, ns[i].class, ns[i].text, want.class, want.text)
		}
	}
	if !strings.Contains(ns[0].text, "New sign-in: Safari on iOS from 127.0.0.1") || !strings.Contains(ns[0].text, `href="/settings/sessions"`) {
		t.Errorf("the security notification: %s", ns[0].text)
	}
	if !strings.Contains(ns[1].text, "MENTION-1") || !strings.Contains(ns[1].text, `href="/u/bob"`) {
		t.Errorf("the mention: %s", ns[1].text)
	}
	if !strings.Contains(ns[2].text, `href="/u/carol"`) || !strings.Contains(ns[3].text, `href="/u/bob"`) {
		t.Errorf("the approval and the follow do not name who: %s / %s", ns[2].text, ns[3].text)
	}
	// Seen: the count is gone from the menu, in every session of alice's,
	// and the list marks none unread.
	for _, b := range []*browser{alice, phone} {
		if r := b.page("/"); unread(r.body) != 0 || strings.Contains(r.body, `class="count"`) {
			t.Errorf("after visiting /notifications the menu still counts %d", unread(r.body))
		}
	}
	r = alice.page("/notifications")
	if ns := notifications(r.body); len(ns) != 4 || strings.Contains(r.body, "notification unread") {
		t.Errorf("a second visit: %d notifications, still unread ones: %v", len(ns), strings.Contains(r.body, "notification unread"))
	}
	// Bob's post is public: carol, whom it names too, is told as well;
	// its author and the unknown name are not.
	if ns := notifications(carol.page("/notifications").body); len(ns) != 2 {
		t.Errorf("carol has %d notifications, want the request and the mention", len(ns))
	}
	if n := unread(bob.page("/").body); n != 0 {
		t.Errorf("the author of the mention has %d unread", n)
	}
	// A new one is counted again, alone.
	bob.write("@alice MENTION-2")
	if n := unread(alice.page("/").body); n != 1 {
		t.Errorf("after one more mention: %d unread, want 1", n)
	}
	if r := alice.page("/notifications"); strings.Count(r.body, "notification unread") != 1 {
		t.Errorf("%d marked unread, want 1", strings.Count(r.body, "notification unread"))
	}
	// Many: the menu says 99+, and the pages of the list have no gaps.
	ctx := context.Background()
	aliceID, bobID := s.userID("alice"), s.userID("bob")
	for i := range 120 {
		if _, err := s.st.DB.CreatePost(ctx, bobID, fmt.Sprintf("@alice bulk %d", i), []int64{aliceID}, s.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.st.Account.Forget(aliceID)
	if r := alice.page("/"); !strings.Contains(r.body, `<span aria-hidden="true">99+</span><span class="visually-hidden">, more than 99 unread</span>`) {
		t.Errorf("with 120 unread the menu shows %d", unread(r.body))
	}
	seen := map[string]bool{}
	path, total := "/notifications", 0
	for path != "" {
		r := alice.page(path)
		for _, n := range notifications(r.body) {
			if seen[n.text] {
				t.Fatalf("a notification twice: %s", n.text)
			}
			seen[n.text] = true
			total++
		}
		m := regexp.MustCompile(`href="(/notifications\?before=\d+)">Older</a>`).FindStringSubmatch(r.body)
		path = ""
		if m != nil {
			path = m[1]
		}
	}
	if total != 4+1+120 {
		t.Errorf("the notification pages hold %d, want %d", total, 4+1+120)
	}
	if n := unread(alice.page("/").body); n != 0 {
		t.Errorf("after reading: %d unread", n)
	}
}

// Notifications show only what their reader may see now, and mentions are
// bounded.
func testNotificationsPrivacy(t *testing.T, s *server) {
	alice := s.join("alice")
	bob := s.join("bob")
	carol := s.join("carol")
	// A mention whose post is deleted goes with it.
	id := bob.write("@alice DELETED-MENTION")
	if n := unread(alice.page("/").body); n != 1 {
		t.Fatalf("setup: %d unread", n)
	}
	bob.must("/posts/"+strconv.FormatInt(id, 10)+"/delete", nil)
	if r := alice.page("/notifications"); strings.Contains(r.body, "DELETED-MENTION") || len(notifications(r.body)) != 0 {
		t.Errorf("a deleted post's mention is still listed:\n%s", mainOf(r.body))
	}
	if n := unread(alice.page("/").body); n != 0 {
		t.Errorf("a deleted post's mention is still counted: %d", n)
	}
	// A mention from an account that has since gone private: those who
	// do not follow it no longer read the post there.
	carol.must("/u/alice/follow", nil)
	alice.write("@bob @carol WENT-PRIVATE")
	if n := unread(bob.page("/").body); n != 1 {
		t.Fatalf("setup: bob was not told (%d unread)", n)
	}
	alice.must("/settings/privacy", url.Values{"private": {"on"}})
	if n := unread(bob.page("/").body); n != 0 {
		t.Errorf("a non-follower's menu still counts a private account's mention: %d", n)
	}
	if r := bob.page("/notifications"); strings.Contains(r.body, "WENT-PRIVATE") {
		t.Errorf("a non-follower still reads a private account's post in a notification:\n%s", mainOf(r.body))
	}
	if r := carol.page("/notifications"); !strings.Contains(r.body, "WENT-PRIVATE") {
		t.Errorf("a follower no longer reads the mention:\n%s", mainOf(r.body))
	}
	alice.must("/settings/privacy", url.Values{})
	// At most ten people are told of one post.
	var names []string
	for i := range 12 {
		name := fmt.Sprintf("user%02d", i)
		s.addUser(name, alicePW)
		names = append(names, "@"+name)
	}
	bob.write(strings.Join(names, " "))
	if n := s.count(`SELECT count(*) FROM notifications WHERE kind = 'mention' AND actor_id = ?`, s.userID("bob")); n != 10 {
		t.Errorf("one post notified %d people, want 10", n)
	}
}
