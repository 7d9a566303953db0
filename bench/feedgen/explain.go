package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/data"
	"github.com/connectbook/connectbook/internal/feed"
)

// The queries behind the pages, as the data package runs them.
const (
	homeFeedSQL      = data.HomeFeedQuery
	timelineSQL      = data.TimelineQuery
	postsByAuthorSQL = data.PostsByAuthorQuery
	countPostsSQL    = data.CountPostsQuery
	maxID            = data.MaxID
	feedWindow       = data.FeedWindow
	feedGrowth       = data.FeedGrowth
)

// explain prints the plans of the queries behind the home feed's first
// and second pages and a profile page, with the values those pages use,
// and times the data package's own calls.
func explain(ctx context.Context, db *data.DB, c config, out io.Writer) error {
	var userID int64
	if err := db.SQL.QueryRowContext(ctx, bind(db, `SELECT id FROM users WHERE username = ?`), c.user).Scan(&userID); err != nil {
		return fmt.Errorf("user %q: %w", c.user, err)
	}
	var busyID int64
	var err error
	if c.busy != "" {
		err = db.SQL.QueryRowContext(ctx, bind(db, `SELECT id FROM users WHERE username = ?`), c.busy).Scan(&busyID)
	} else {
		err = db.SQL.QueryRowContext(ctx, `SELECT author_id FROM posts GROUP BY author_id ORDER BY count(*) DESC LIMIT 1`).Scan(&busyID)
	}
	if err != nil {
		return fmt.Errorf("busy user: %w", err)
	}
	limit := int64(feed.PageSize + 1)
	before := c.before
	if before == 0 {
		first, err := db.HomeFeed(ctx, userID, 0, int(limit))
		if err != nil {
			return err
		}
		if len(first) <= feed.PageSize {
			return fmt.Errorf("the home feed has one page only")
		}
		before = first[feed.PageSize-1].ID
	}
	var horizon int64
	if err := db.SQL.QueryRowContext(ctx, `SELECT post_id FROM timeline_horizon`).Scan(&horizon); err != nil {
		return err
	}
	name := map[bool]string{true: "PostgreSQL", false: "SQLite"}[db.Postgres()]
	fmt.Fprintf(out, "%s plans: user %d (%s), busy author %d, second page before %d, timeline horizon %d\n", name, userID, c.user, busyID, before, horizon)

	for _, page := range []struct {
		title string
		hi    int64
	}{{"home feed, first page (the user's timeline)", maxID}, {"home feed, second page (?before=" + strconv.FormatInt(before, 10) + ")", before}} {
		fmt.Fprintf(out, "\n== %s:\n", page.title)
		if err := plan(ctx, db, out, timelineSQL, userID, page.hi, userID, userID, userID, limit); err != nil {
			return err
		}
	}
	windows, err := feedWindows(ctx, db, userID, horizon+1, limit)
	if err != nil {
		return err
	}
	w := windows[0]
	fmt.Fprintf(out, "\n== home feed past the timeline horizon (?before=%d), read from posts: %d range(s) of IDs read; the first:\n", horizon+1, len(windows))
	if err := plan(ctx, db, out, homeFeedSQL, userID, userID, userID, w[0], w[1], limit); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== profile posts (PostsByAuthor), first page:\n")
	if err := plan(ctx, db, out, postsByAuthorSQL, busyID, maxID, limit); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== profile post count (CountPosts):\n")
	if err := plan(ctx, db, out, countPostsSQL, busyID); err != nil {
		return err
	}

	// The data package's calls, as the pages make them (prepared
	// statements, as many runs as asked: on PostgreSQL, past the fifth a
	// prepared statement may switch to its generic plan).
	fmt.Fprintf(out, "\n== timings of the data package's calls (median and max of %d runs, one at a time)\n", c.explainN)
	calls := []struct {
		name string
		fn   func() error
	}{
		{"HomeFeed, first page", func() error { _, err := db.HomeFeed(ctx, userID, 0, int(limit)); return err }},
		{"HomeFeed, second page", func() error { _, err := db.HomeFeed(ctx, userID, before, int(limit)); return err }},
		{"HomeFeed, past the horizon", func() error { _, err := db.HomeFeed(ctx, userID, horizon+1, int(limit)); return err }},
		{"PostsByAuthor, busy author", func() error { _, err := db.PostsByAuthor(ctx, busyID, 0, int(limit)); return err }},
		{"CountPosts, busy author", func() error { _, err := db.CountPosts(ctx, busyID); return err }},
	}
	for _, call := range calls {
		var d []time.Duration
		for range c.explainN {
			t := time.Now()
			if err := call.fn(); err != nil {
				return err
			}
			d = append(d, time.Since(t))
		}
		slices.Sort(d)
		fmt.Fprintf(out, "%-28s %8.3f ms %8.3f ms\n", call.name, ms(d[len(d)/2]), ms(d[len(d)-1]))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// feedWindows returns the ID ranges [hi, lo) HomeFeed reads for a page
// starting below hi, running the copied query as it does.
func feedWindows(ctx context.Context, db *data.DB, userID, hi, limit int64) ([][2]int64, error) {
	var windows [][2]int64
	got := int64(0)
	for width := int64(feedWindow); hi > 0 && got < limit; width *= feedGrowth {
		lo := max(hi-width, 0)
		windows = append(windows, [2]int64{hi, lo})
		rows, err := db.SQL.QueryContext(ctx, bind(db, homeFeedSQL), userID, userID, userID, hi, lo, limit-got)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			got++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		hi = lo
	}
	return windows, nil
}

// plan prints query with its ? filled in by args (integers), and its
// plan: EXPLAIN QUERY PLAN on SQLite; on PostgreSQL EXPLAIN ANALYZE of the
// query with literal values (the custom plan), and of the query prepared
// with parameters under plan_cache_mode = force_generic_plan (the plan a
// prepared statement may settle on after five runs).
func plan(ctx context.Context, db *data.DB, out io.Writer, query string, args ...int64) error {
	literal := fill(query, args, func(int) string { return "" })
	fmt.Fprintf(out, "%s\n", indent(literal, "    "))
	if !db.Postgres() {
		rows, err := db.SQL.QueryContext(ctx, `EXPLAIN QUERY PLAN `+literal)
		if err != nil {
			return err
		}
		defer rows.Close()
		depth := map[int]int{}
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				return err
			}
			depth[id] = depth[parent] + 1
			fmt.Fprintf(out, "  %s%s\n", strings.Repeat("  ", depth[id]-1), detail)
		}
		return rows.Err()
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	show := func(title, q string) error {
		fmt.Fprintf(out, "  -- %s\n", title)
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			fmt.Fprintf(out, "  %s\n", line)
		}
		return rows.Err()
	}
	if err := show("custom plan (literal values)", `EXPLAIN (ANALYZE, BUFFERS) `+literal); err != nil {
		return err
	}
	params := fill(query, args, func(n int) string { return "$" + strconv.Itoa(n) })
	values := make([]string, len(args))
	for i, a := range args {
		values[i] = strconv.FormatInt(a, 10)
	}
	if _, err := conn.ExecContext(ctx, `PREPARE feedgen_q AS `+params); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `DEALLOCATE feedgen_q`)
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `RESET plan_cache_mode`)
	return show("generic plan (prepared with parameters)", `EXPLAIN (ANALYZE, BUFFERS) EXECUTE feedgen_q(`+strings.Join(values, ", ")+`)`)
}

// fill replaces the n-th ? of query with param(n), or with args[n-1] if
// param returns "".
func fill(query string, args []int64, param func(int) string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r != '?' {
			b.WriteRune(r)
			continue
		}
		n++
		if p := param(n); p != "" {
			b.WriteString(p)
		} else {
			b.WriteString(strconv.FormatInt(args[n-1], 10))
		}
	}
	return b.String()
}

// bind rewrites ? placeholders to $n on PostgreSQL.
func bind(db *data.DB, query string) string {
	if !db.Postgres() {
		return query
	}
	return fill(query, nil, func(n int) string { return "$" + strconv.Itoa(n) })
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimLeft(l, "\t ")
	}
	return strings.Join(lines, "\n")
}
