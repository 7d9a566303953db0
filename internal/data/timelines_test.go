package data_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/testdb"
)

// network is what the home feed should show, kept beside the database.
type network struct {
	users   []int64
	follows map[[2]int64]bool // follower, followee
	mutes   map[[2]int64]bool // muter, muted
	blocks  map[[2]int64]bool // blocker, blocked
	posts   map[int64]int64   // post → author
}

// feed is user's home feed as the rules say: their own posts and those of
// people they follow and have not muted, newest first.
func (n *network) feed(user int64) []int64 {
	var ids []int64
	for id, author := range n.posts {
		if author == user || n.follows[[2]int64{user, author}] && !n.mutes[[2]int64{user, author}] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids
}

// readFeed walks user's whole home feed, limit posts a page.
func readFeed(t *testing.T, db *data.DB, user int64, limit int) []int64 {
	t.Helper()
	var ids []int64
	before := int64(0)
	for {
		page, err := db.HomeFeed(context.Background(), user, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if len(page) < limit {
			return ids
		}
		before = page[len(page)-1].ID
	}
}

// The home feed read from timelines (and past their horizon from posts)
// is the feed the rules give, whatever happened before: posts made and
// deleted, follows, unfollows, approved requests, blocks, mutes, and
// timelines trimmed to a few posts, read a few posts a page so that pages
// straddle the horizon.
func TestTimelines(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, be.DSN(t))
			now := time.Now()
			n := &network{follows: map[[2]int64]bool{}, mutes: map[[2]int64]bool{}, blocks: map[[2]int64]bool{}, posts: map[int64]int64{}}
			for i := range 7 {
				u, err := db.CreateUser(ctx, fmt.Sprintf("user%d", i), fmt.Sprintf("User %d", i), "x", now)
				if err != nil {
					t.Fatal(err)
				}
				n.users = append(n.users, u.ID)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			pick := func() (int64, int64) {
				a := n.users[rng.IntN(len(n.users))]
				b := n.users[rng.IntN(len(n.users))]
				for b == a {
					b = n.users[rng.IntN(len(n.users))]
				}
				return a, b
			}
			blocked := func(a, b int64) bool { return n.blocks[[2]int64{a, b}] || n.blocks[[2]int64{b, a}] }
			check := func(when string) {
				t.Helper()
				for _, u := range n.users {
					for _, limit := range []int{1, 3, 50} {
						if got, want := readFeed(t, db, u, limit), n.feed(u); !slices.Equal(got, want) {
							t.Fatalf("%s: user %d's feed, %d a page:\n got %v\nwant %v", when, u, limit, got, want)
						}
					}
				}
			}
			for step := range 600 {
				a, b := pick()
				var err error
				switch op := rng.IntN(20); {
				case op < 8:
					var p data.Post
					p, err = db.CreatePost(ctx, a, "post", nil, now)
					n.posts[p.ID] = a
				case op < 11:
					if !blocked(a, b) {
						_, err = db.Follow(ctx, a, b, now)
						n.follows[[2]int64{a, b}] = true
					}
				case op == 11:
					if !blocked(a, b) && !n.follows[[2]int64{a, b}] {
						if _, err = db.RequestFollow(ctx, a, b, now); err == nil {
							err = db.ApproveRequest(ctx, b, a, now)
						}
						n.follows[[2]int64{a, b}] = true
					}
				case op == 12:
					if !blocked(a, b) {
						_, err = db.RequestFollow(ctx, a, b, now)
						if err == nil {
							err = db.AcceptAllRequests(ctx, b, now)
						}
						n.follows[[2]int64{a, b}] = true
					}
				case op == 13:
					err = db.Unfollow(ctx, a, b)
					delete(n.follows, [2]int64{a, b})
				case op == 14 && step%3 == 0:
					err = db.Block(ctx, a, b, now)
					n.blocks[[2]int64{a, b}] = true
					delete(n.follows, [2]int64{a, b})
					delete(n.follows, [2]int64{b, a})
				case op == 15:
					err = db.Unblock(ctx, a, b)
					delete(n.blocks, [2]int64{a, b})
				case op == 16:
					err = db.Mute(ctx, a, b, now)
					n.mutes[[2]int64{a, b}] = true
				case op == 17:
					err = db.Unmute(ctx, a, b)
					delete(n.mutes, [2]int64{a, b})
				case op == 18:
					for id, author := range n.posts {
						err = db.DeletePost(ctx, author, id)
						delete(n.posts, id)
						break
					}
				default:
					_, err = db.TrimTimelines(ctx, 5)
				}
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if step%50 == 49 {
					check(fmt.Sprintf("after step %d", step))
				}
			}
			// Trimming twice deletes the entries the first trim put past
			// the horizon: what is left is about the newest five posts'.
			for range 2 {
				if _, err := db.TrimTimelines(ctx, 5); err != nil {
					t.Fatal(err)
				}
			}
			var horizon, below, entries, newest int64
			if err := db.SQL.QueryRow(`SELECT post_id FROM timeline_horizon`).Scan(&horizon); err != nil {
				t.Fatal(err)
			}
			if err := db.SQL.QueryRow(`SELECT MAX(id) FROM posts`).Scan(&newest); err != nil {
				t.Fatal(err)
			}
			if err := db.SQL.QueryRow(`SELECT count(*) FROM timelines WHERE post_id <= ` + fmt.Sprint(horizon)).Scan(&below); err != nil {
				t.Fatal(err)
			}
			if err := db.SQL.QueryRow(`SELECT count(*) FROM timelines`).Scan(&entries); err != nil {
				t.Fatal(err)
			}
			if horizon != newest-5 || below != 0 || entries == 0 || entries > 5*int64(len(n.users)) {
				t.Errorf("after trimming: horizon %d (newest post %d), %d entries, %d of them at or before the horizon", horizon, newest, entries, below)
			}
			check("after trimming")

			// An entry is never a permission: one left behind (as by a
			// post that raced an unfollow) shows nothing.
			for _, u := range n.users {
				for id, author := range n.posts {
					if author != u && !n.follows[[2]int64{u, author}] {
						if _, err := db.SQL.Exec(fmt.Sprintf(`INSERT INTO timelines (user_id, post_id, author_id) VALUES (%d, %d, %d)
							ON CONFLICT DO NOTHING`, u, id, author)); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			check("with entries of people not followed")

			// Deleting a user takes their posts out of every feed, and
			// their timeline with them.
			gone := n.users[0]
			if err := db.DeleteUser(ctx, gone); err != nil {
				t.Fatal(err)
			}
			n.users = n.users[1:]
			for id, author := range n.posts {
				if author == gone {
					delete(n.posts, id)
				}
			}
			check("after deleting a user")
			if err := db.SQL.QueryRow(`SELECT count(*) FROM timelines WHERE user_id = ` + fmt.Sprint(gone)).Scan(&entries); err != nil || entries != 0 {
				t.Errorf("the deleted user's timeline: %d entries, %v", entries, err)
			}
		})
	}
}

// A post made while someone follows its author reaches their feed however
// the two interleave: many people follow one author while the author
// posts, and afterwards every follower's feed holds every post.
func TestTimelineFollowRace(t *testing.T) {
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, be.DSN(t))
			now := time.Now()
			author, err := db.CreateUser(ctx, "author", "Author", "x", now)
			if err != nil {
				t.Fatal(err)
			}
			var followers []int64
			for i := range 24 {
				u, err := db.CreateUser(ctx, fmt.Sprintf("follower%d", i), "Follower", "x", now)
				if err != nil {
					t.Fatal(err)
				}
				followers = append(followers, u.ID)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			var posts []int64
			errs := make(chan error, len(followers)+2)
			for w := range 2 {
				wg.Go(func() {
					for i := range 60 {
						p, err := db.CreatePost(ctx, author.ID, fmt.Sprintf("post %d.%d", w, i), nil, now)
						if err != nil {
							errs <- err
							return
						}
						mu.Lock()
						posts = append(posts, p.ID)
						mu.Unlock()
					}
				})
			}
			for i, f := range followers {
				wg.Go(func() {
					time.Sleep(time.Duration(i) * 3 * time.Millisecond)
					if _, err := db.Follow(ctx, f, author.ID, now); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if !errors.Is(err, context.Canceled) {
					t.Fatal(err)
				}
			}
			slices.Sort(posts)
			slices.Reverse(posts)
			for _, f := range followers {
				if got := readFeed(t, db, f, 500); !slices.Equal(got, posts) {
					t.Errorf("follower %d's feed holds %d of the author's %d posts", f, len(got), len(posts))
				}
			}
		})
	}
}
