package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connectbook/connectbook/session"
)

// sweepBatch is the limit the Manager's sweeper passes to DeleteExpired.
const sweepBatch = 500

// The warm-up runs until its Finds take at most one page fault in
// maxWarmFaults, for at most maxWarmSlices slices.
const (
	maxWarmFaults = 1000
	maxWarmSlices = 30
)

// userAgent is a browser's, of a common length.
const userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"

// filler makes the sessions of a run: "live" ones, numbered from 0, which
// stay, four to a user, and "due" ones, whose idle deadline has passed at
// now, which the sweep removes. A session's ID derives from its kind and
// number, so none needs to be kept.
type filler struct {
	store session.Store
	now   time.Time
	seed  [16]byte
	live  int // live sessions 0 to live-1 exist
	due   int // due sessions made so far
	// pending is how many of those the sweep has yet to delete.
	pending int
}

func newFiller(st session.Store, now time.Time) *filler {
	f := &filler{store: st, now: now}
	rand.Read(f.seed[:])
	return f
}

func (f *filler) id(due bool, i int) session.ID {
	var b [26]byte
	copy(b[:], f.seed[:])
	if due {
		b[16] = 1
	}
	binary.BigEndian.PutUint64(b[17:], uint64(i))
	return sha256.Sum256(b[:])
}

// session returns live session i, or due session i. A live session was
// last seen up to 25 minutes before now, so its idle deadline is 5 to 30
// minutes after; a due one 31 to 60 minutes before, so its idle deadline
// has passed. Both were created an hour before that.
func (f *filler) session(due bool, i int) session.Session {
	user := fmt.Sprintf("user%08d", i/4)
	seen := f.now.Add(-time.Duration(i*7919%1500) * time.Second)
	if due {
		user = fmt.Sprintf("due%08d", i/4)
		seen = f.now.Add(-31*time.Minute - time.Duration(i*7919%1740)*time.Second)
	}
	created := seen.Add(-time.Hour)
	ip := fmt.Sprintf("198.51.%d.%d", i/250%250, i%250+1)
	s := session.Session{
		ID:               f.id(due, i),
		UserID:           user,
		CreatedAt:        created,
		LastSeenAt:       seen,
		IdleDeadline:     seen.Add(30 * time.Minute),
		AbsoluteDeadline: created.Add(12 * time.Hour),
		CreatedIP:        ip,
		UserAgent:        userAgent,
		LastIP:           ip,
		Epoch:            1,
		Method:           "password",
		AuthAt:           created,
		Handle:           session.NewHandle(),
		SeenAt:           created,
		IssuedAt:         created,
	}
	rand.Read(s.Secret[:])
	return s
}

// fill creates live sessions up to n and due more due ones, interleaved, on
// workers goroutines.
func (f *filler) fill(ctx context.Context, n, due, workers int) error {
	type job struct {
		due bool
		i   int
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job, 1024)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				if err := f.store.Create(ctx, f.session(j.due, j.i)); err != nil {
					cancel(fmt.Errorf("Create: %w", err))
				}
			}
		})
	}
	live, d := f.live, f.due
	for ctx.Err() == nil && (live < n || d < f.due+due) {
		j := job{i: live}
		if d < f.due+due && (live >= n || (live+d)%11 == 10) {
			j = job{due: true, i: d}
			d++
		} else {
			live++
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	f.live, f.due, f.pending = n, f.due+due, f.pending+due
	return nil
}

// result is what is measured at one size.
type result struct {
	store         string
	sessions      int
	fillRate      float64 // sessions created per second, due ones included
	bytes         int64
	hit, miss     stats // medians of the rounds
	hitsPerSecond float64
	list          []time.Duration // sorted
	sweepDue      []time.Duration // sorted, one per batch
	sweepIdle     []time.Duration // sorted
	readers       int             // of the throughput measurement
	faults        float64         // the process's page faults per timed Find
	firstFaults   float64         // per Find in the warm-up's first slice
	warmUp        time.Duration   // how long the warm-up ran
}

// measure sweeps the due sessions and times the operations at the current
// size.
func (f *filler) measure(ctx context.Context, cfg config, r *result) error {
	st := f.store
	// First the due sessions go, a batch at a time, as the Manager's
	// sweeper takes them, so that the rest measures the N that stay.
	swept := 0
	for {
		start := time.Now()
		n, err := st.DeleteExpired(ctx, f.now, sweepBatch)
		if err != nil {
			return fmt.Errorf("DeleteExpired: %w", err)
		}
		r.sweepDue = append(r.sweepDue, time.Since(start))
		swept += n
		if n < sweepBatch {
			break
		}
	}
	if swept != f.pending {
		return fmt.Errorf("DeleteExpired removed %d sessions, want the %d due", swept, f.pending)
	}
	f.pending = 0
	slices.Sort(r.sweepDue)
	rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	hit := func() session.ID { return f.id(false, rnd.IntN(f.live)) }
	// A warm-up, untimed, on as many goroutines as the throughput
	// measurement, so that every connection the store reads on has seen
	// the table much as a running server's would have: in slices of
	// cfg.duration until the page faults it takes (SQLite's readers
	// mapping the file) are down to one in maxWarmFaults Finds, for at most
	// maxWarmSlices. The figures are of a store in its steady state; the
	// warm-up's length and its first slice's faults say how long reaching
	// it took.
	for slice := 1; ; slice++ {
		faults := pageFaults()
		rate, err := f.throughput(ctx, cfg.readers, cfg.duration)
		if err != nil {
			return err
		}
		perFind := float64(pageFaults()-faults) / (rate * cfg.duration.Seconds())
		if slice == 1 {
			r.firstFaults = perFind
		}
		r.warmUp = time.Duration(slice) * cfg.duration
		if perFind*maxWarmFaults <= 1 || slice == maxWarmSlices {
			break
		}
	}
	// Rounds of each, alternating, and the median of the rounds' p50 and
	// p99: another process's burst of work spoils a round, not the figure.
	var hits, misses []stats
	faults := pageFaults()
	for range cfg.rounds {
		ds, err := timed(cfg.samples, func() error {
			_, err := st.Find(ctx, hit())
			return err
		})
		if err != nil {
			return fmt.Errorf("Find of a session: %w", err)
		}
		hits = append(hits, statsOf(ds))
		ds, err = timed(cfg.samples, func() error {
			var id session.ID
			rand.Read(id[:])
			if _, err := st.Find(ctx, id); !errors.Is(err, session.ErrNotFound) {
				return fmt.Errorf("got %v, want ErrNotFound", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("Find of a missing ID: %w", err)
		}
		misses = append(misses, statsOf(ds))
	}
	r.hit, r.miss = median(hits), median(misses)
	r.faults = float64(pageFaults()-faults) / float64(2*cfg.rounds*cfg.samples)
	var err error
	r.readers = cfg.readers
	if r.hitsPerSecond, err = f.throughput(ctx, cfg.readers, cfg.duration); err != nil {
		return err
	}
	r.list, err = timed(cfg.lists, func() error {
		user := fmt.Sprintf("user%08d", rnd.IntN(f.live/4))
		list, err := st.List(ctx, user, f.now)
		if err == nil && len(list) != 4 {
			err = fmt.Errorf("%d sessions of %s, want 4", len(list), user)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("List: %w", err)
	}
	// Then, with nothing due, the sweep that runs every minute.
	r.sweepIdle, err = timed(cfg.sweeps, func() error {
		n, err := st.DeleteExpired(ctx, f.now, sweepBatch)
		if err == nil && n != 0 {
			err = fmt.Errorf("swept %d sessions, want none", n)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("idle DeleteExpired: %w", err)
	}
	return nil
}

// throughput runs Finds of existing sessions on readers goroutines for d
// and returns how many finished per second.
func (f *filler) throughput(ctx context.Context, readers int, d time.Duration) (float64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var done atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
	for g := range readers {
		wg.Go(func() {
			rnd := mrand.New(mrand.NewPCG(uint64(start.UnixNano()), uint64(g)))
			for n := 0; ; n++ {
				if n%64 == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
					return
				}
				if _, err := f.store.Find(ctx, f.id(false, rnd.IntN(f.live))); err != nil {
					cancel(fmt.Errorf("Find: %w", err))
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// timed runs op n times and returns the times it took, sorted.
func timed(n int, op func() error) ([]time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := op(); err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds, nil
}

// stats are the median and 99th percentile of a round of timings.
type stats struct{ p50, p99 time.Duration }

func statsOf(sorted []time.Duration) stats {
	return stats{quantile(sorted, 0.5), quantile(sorted, 0.99)}
}

// median returns the median of each of the rounds' figures.
func median(rounds []stats) stats {
	var p50, p99 []time.Duration
	for _, r := range rounds {
		p50, p99 = append(p50, r.p50), append(p99, r.p99)
	}
	slices.Sort(p50)
	slices.Sort(p99)
	return stats{quantile(p50, 0.5), quantile(p99, 0.5)}
}

// quantile returns the q-quantile of sorted ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(q*float64(len(ds))+0.5) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}
