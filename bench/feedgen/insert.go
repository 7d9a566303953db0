package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/data"
)

type phase struct {
	what string
	d    time.Duration
}

// insert writes the world into db, table by table, and reports how long
// each took.
func (w *world) insert(ctx context.Context, db *data.DB, c config, progress func(string, ...any)) ([]phase, error) {
	var phases []phase
	step := func(what string, fn func(*batch) error, table string, cols ...string) error {
		t := time.Now()
		b := &batch{ctx: ctx, db: db.SQL, pg: db.Postgres(), table: table, cols: cols, rows: c.rows, txRows: c.txRows}
		if err := fn(b); err != nil {
			b.abort()
			return fmt.Errorf("%s: %w", table, err)
		}
		if err := b.close(); err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		phases = append(phases, phase{what, time.Since(t)})
		progress("%s: %d rows in %.1fs", table, b.total, time.Since(t).Seconds())
		return nil
	}
	err := step("users", func(b *batch) error {
		for i, u := range w.users {
			private := 0
			if u.private {
				private = 1
			}
			if err := b.add(int64(i+1), u.username, u.display, u.bio, u.hash, u.created, u.created, private); err != nil {
				return err
			}
		}
		return nil
	}, "users", "id", "username", "display_name", "bio", "password_hash", "created_at", "updated_at", "private")
	if err == nil {
		err = step("search_keys", func(b *batch) error {
			for i, u := range w.users {
				if err := b.add(u.username, int64(i+1), "username"); err != nil {
					return err
				}
				if name := data.SearchKey(u.display); name != "" && name != u.username {
					if err := b.add(name, int64(i+1), "name"); err != nil {
						return err
					}
				}
			}
			return nil
		}, "search_keys", "search_key", "user_id", "kind")
	}
	if err == nil {
		err = step("posts", func(b *batch) error {
			rng := rand.New(rand.NewPCG(w.seed, 0xb0d1))
			for i, a := range w.authors {
				if err := b.add(int64(i+1), int64(a)+1, w.body(rng), w.postAt[i]); err != nil {
					return err
				}
			}
			return nil
		}, "posts", "id", "author_id", "body", "created_at")
	}
	if err == nil {
		err = step("follows", func(b *batch) error {
			for i, list := range w.follows {
				for n, j := range list {
					if err := b.add(int64(i+1), int64(j)+1, w.followAt[i][n]); err != nil {
						return err
					}
				}
			}
			return nil
		}, "follows", "follower_id", "followee_id", "created_at")
	}
	if err == nil {
		err = step("mutes", func(b *batch) error {
			for _, j := range w.mutes {
				if err := b.add(int64(1), int64(j)+1, w.postAt[len(w.postAt)-1]); err != nil {
					return err
				}
			}
			return nil
		}, "mutes", "muter_id", "muted_id", "created_at")
	}
	if err == nil {
		// Timelines as posting would have written them: the newest
		// data.TimelinePosts posts, each in its author's timeline and
		// its author's followers'.
		t := time.Now()
		horizon := max(int64(len(w.authors))-data.TimelinePosts, 0)
		var res sql.Result
		if _, err = db.SQL.ExecContext(ctx, bind(db, `UPDATE timeline_horizon SET post_id = ?`), horizon); err == nil {
			res, err = db.SQL.ExecContext(ctx, bind(db, `INSERT INTO timelines (user_id, post_id, author_id)
				SELECT f.follower_id, p.id, p.author_id FROM posts p JOIN follows f ON f.followee_id = p.author_id WHERE p.id > ?
				UNION ALL SELECT author_id, id, author_id FROM posts WHERE id > ?
				ON CONFLICT DO NOTHING`), horizon, horizon)
		}
		if err != nil {
			return nil, fmt.Errorf("timelines: %w", err)
		}
		n, _ := res.RowsAffected()
		phases = append(phases, phase{"timelines", time.Since(t)})
		progress("timelines: %d rows in %.1fs", n, time.Since(t).Seconds())
	}
	if err != nil {
		return nil, err
	}
	t := time.Now()
	if db.Postgres() {
		// The IDs were given explicitly: move the identity sequences past
		// them, then do what autovacuum would after a bulk load.
		for _, table := range []string{"users", "posts"} {
			if _, err := db.SQL.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), (SELECT max(id) FROM `+table+`))`); err != nil {
				return nil, err
			}
		}
		what := "VACUUM ANALYZE"
		if !c.vacuum {
			what = "ANALYZE"
		}
		for _, table := range []string{"users", "search_keys", "posts", "follows", "mutes", "timelines", "timeline_horizon"} {
			if _, err := db.SQL.ExecContext(ctx, what+` `+table); err != nil {
				return nil, err
			}
		}
		phases = append(phases, phase{strings.ToLower(strings.ReplaceAll(what, " ", "_")), time.Since(t)})
	} else {
		if _, err := db.SQL.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			return nil, err
		}
		phases = append(phases, phase{"checkpoint", time.Since(t)})
	}
	progress("done")
	return phases, nil
}

// batch inserts rows into one table with multi-row INSERT statements of
// rows rows each, committing every txRows rows.
type batch struct {
	ctx          context.Context
	db           *sql.DB
	pg           bool
	table        string
	cols         []string
	rows, txRows int

	tx          *sql.Tx
	args        []any
	inTx, total int
	full        string // the statement for a full batch
}

func (b *batch) add(vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) == b.rows*len(b.cols) {
		return b.flush()
	}
	return nil
}

func (b *batch) statement(rows int) string {
	if rows == b.rows && b.full != "" {
		return b.full
	}
	var s strings.Builder
	s.WriteString("INSERT INTO " + b.table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			s.WriteString(", ")
		}
		s.WriteByte('(')
		for c := range b.cols {
			if c > 0 {
				s.WriteString(", ")
			}
			n++
			if b.pg {
				s.WriteString("$" + strconv.Itoa(n))
			} else {
				s.WriteByte('?')
			}
		}
		s.WriteByte(')')
	}
	if rows == b.rows {
		b.full = s.String()
	}
	return s.String()
}

func (b *batch) flush() error {
	if len(b.args) == 0 {
		return nil
	}
	if b.tx == nil {
		tx, err := b.db.BeginTx(b.ctx, nil)
		if err != nil {
			return err
		}
		b.tx = tx
	}
	rows := len(b.args) / len(b.cols)
	if _, err := b.tx.ExecContext(b.ctx, b.statement(rows), b.args...); err != nil {
		return err
	}
	b.args = b.args[:0]
	b.inTx += rows
	b.total += rows
	if b.inTx >= b.txRows {
		return b.commit()
	}
	return nil
}

func (b *batch) commit() error {
	if b.tx == nil {
		return nil
	}
	err := b.tx.Commit()
	b.tx, b.inTx = nil, 0
	return err
}

func (b *batch) close() error {
	if err := b.flush(); err != nil {
		b.abort()
		return err
	}
	return b.commit()
}

func (b *batch) abort() {
	if b.tx != nil {
		b.tx.Rollback()
		b.tx = nil
	}
}
