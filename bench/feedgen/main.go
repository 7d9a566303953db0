// Command feedgen fills a fresh ConnectBook database with a social network
// large enough to measure the home feed and profile pages against: by
// default 10,000 users, 1,000,000 posts and about 100 follows per user.
//
//	go run ./bench/feedgen -db /tmp/feed.db                                  # SQLite
//	go run ./bench/feedgen -db 'postgres://root@127.0.0.1:5432/feedbench?sslmode=disable'
//	go run ./bench/feedgen -db … -explain -before 987654                     # the feed's query plans
//
// The database is opened (and migrated) with internal/data, must have no
// users yet, and is filled with multi-row INSERTs (-rows rows a statement,
// -tx rows a transaction) straight into the tables, in this order:
//
//   - users: clearly fake names (first and last names from short lists,
//     usernames such as ada_lovelace42), joined over the year before the
//     first post, with a short bio for two in three; one known user
//     (-user, -password) whose password hash comes from the project's own
//     hasher (auth.Hasher, argon2id), so that a client can sign in as them.
//     Everyone else shares one hash of a random password nobody knows.
//     3% of the accounts are private (never the known or the busiest user).
//   - search_keys: the username and the lower-case display name, as
//     data.CreateUser stores them.
//   - posts: over the last year, IDs increasing with time. Each post's
//     author is drawn by activity: every user has a log-normal activity
//     weight (σ = 1.5; the known user's is the median), so that with the
//     default seed the median user has written 35 posts and the busiest
//     6,302. Bodies are 20 to about 480 characters of filler text, some
//     with line breaks, non-ASCII letters and emoji, links and @mentions.
//   - follows: each user follows 50 to 150 others (100 on average, the
//     known user exactly -follows), 70% drawn by activity (people follow
//     those who post) and 30% uniformly.
//   - mutes: the known user mutes two of the people they follow, so the
//     feed's mute filter has something to leave out. With the default
//     seed the known user's home feed holds 41,031 posts, 4% of all.
//   - timelines: as posting would have written them, for the newest
//     data.TimelinePosts posts (10,000): an entry per post in its
//     author's timeline and in each of its author's followers' (about
//     4.6 million with the default seed; active authors have more
//     followers), in one INSERT … SELECT, and the horizon set before them.
//
// IDs are given explicitly (users and posts start at 1); on PostgreSQL
// the identity sequences are moved past them afterwards, and the tables
// are vacuumed and analysed, as autovacuum would after a bulk load
// (-vacuum=false: analysed only, as before autovacuum's first vacuum). On
// SQLite nothing is analysed: ConnectBook never runs ANALYZE, so the plans
// are those a real deployment gets.
//
// The data come from -seed alone, except the timestamps (relative to now)
// and the password salts. At the end feedgen prints lines of the form
// "key: value" (known_user, known_user_id, busy_user, busy_user_posts, …)
// that bench/feed.sh reads.
//
// With -explain, feedgen loads nothing: it prints the query plans of the
// home feed (first page and the page before -before, from the timeline;
// the first page past the timeline's horizon, from posts) and of a
// profile's posts for the busy user, on a database it filled earlier.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/connectbook/connectbook/internal/data"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type config struct {
	dsn       string
	users     int
	posts     int
	follows   int
	user      string
	password  string
	seed      uint64
	rows      int
	txRows    int
	explain   bool
	before    int64
	busy      string
	explainN  int
	verbosity bool
	vacuum    bool
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet("feedgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.dsn, "db", "", "SQLite database file or postgres:// URL (required; must have no users)")
	fs.IntVar(&c.users, "users", 10000, "users")
	fs.IntVar(&c.posts, "posts", 1000000, "posts")
	fs.IntVar(&c.follows, "follows", 100, "average follows per user (and the known user's exact number)")
	fs.StringVar(&c.user, "user", "benchuser", "the known user's username")
	fs.StringVar(&c.password, "password", "bench password 1", "the known user's password")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated data")
	fs.IntVar(&c.rows, "rows", 500, "rows per INSERT statement")
	fs.IntVar(&c.txRows, "tx", 25000, "rows per transaction")
	fs.BoolVar(&c.explain, "explain", false, "print the feed and profile queries' plans instead of loading")
	fs.Int64Var(&c.before, "before", 0, "with -explain: the cursor of the home feed's second page (0: the first page's 20th post)")
	fs.StringVar(&c.busy, "busy", "", "with -explain: the author whose posts to plan (default: the one with the most posts)")
	fs.IntVar(&c.explainN, "runs", 50, "with -explain: timed runs of each query (median reported)")
	fs.BoolVar(&c.verbosity, "v", false, "report progress on stderr")
	fs.BoolVar(&c.vacuum, "vacuum", true, "on PostgreSQL, VACUUM ANALYZE after the load (false: ANALYZE only, so that no page is marked all-visible and index-only scans visit the table)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.dsn == "" || fs.NArg() > 0 || c.users < 10 || c.posts < 1 || c.follows < 1 || c.follows >= c.users || c.rows < 1 || c.txRows < c.rows {
		fmt.Fprintln(stderr, "usage: feedgen -db FILE|postgres://… [-users N] [-posts N] [-follows N] [-explain]")
		fs.PrintDefaults()
		return 2
	}
	db, err := data.Open(ctx, c.dsn)
	if err != nil {
		fmt.Fprintln(stderr, "feedgen:", err)
		return 1
	}
	defer db.Close()
	if c.explain {
		err = explain(ctx, db, c, stdout)
	} else {
		err = load(ctx, db, c, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "feedgen:", err)
		return 1
	}
	return 0
}

// load generates the network and inserts it.
func load(ctx context.Context, db *data.DB, c config, stdout, stderr io.Writer) error {
	var n int
	if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the database has %d users already: feedgen fills only a fresh one", n)
	}
	start := time.Now()
	w, err := generate(ctx, c, start)
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) {
		if c.verbosity {
			fmt.Fprintf(stderr, "%6.1fs  "+format+"\n", append([]any{time.Since(start).Seconds()}, args...)...)
		}
	}
	progress("generated %d users, %d posts, %d follows", len(w.users), len(w.authors), w.followCount())
	times, err := w.insert(ctx, db, c, progress)
	if err != nil {
		return err
	}
	busy := w.users[w.busy]
	fmt.Fprintf(stdout, "database: %s\n", map[bool]string{true: "postgres", false: "sqlite"}[db.Postgres()])
	fmt.Fprintf(stdout, "users: %d\nposts: %d\nfollows: %d\nmutes: %d\n", len(w.users), len(w.authors), w.followCount(), len(w.mutes))
	fmt.Fprintf(stdout, "known_user: %s\nknown_user_id: 1\nknown_user_follows: %d\nknown_user_feed_posts: %d\n",
		w.users[0].username, len(w.follows[0]), w.feedPosts(0))
	fmt.Fprintf(stdout, "busy_user: %s\nbusy_user_id: %d\nbusy_user_posts: %d\nbusy_user_followers: %d\n",
		busy.username, w.busy+1, w.postCount[w.busy], w.followers(w.busy))
	fmt.Fprintf(stdout, "median_posts_per_user: %d\n", w.medianPosts())
	for _, t := range times {
		fmt.Fprintf(stdout, "load_%s: %.1fs\n", t.what, t.d.Seconds())
	}
	fmt.Fprintf(stdout, "load_total: %.1fs\n", time.Since(start).Seconds())
	return nil
}
